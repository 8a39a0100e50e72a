"""findings.json: byte-identical for the same snapshot and baseline (no render-time clock)."""

from __future__ import annotations

from pathlib import Path

from auditor.models import json_text
from auditor.models.findings import FindingsDocument
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic


def render(doc: FindingsDocument) -> str:
    return json_text.dumps(doc.to_dict()) + "\n"  # json.dumps(..., indent=2, ensure_ascii=False), faster


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["json"]
    write_atomic(path, render(doc))
    return path
