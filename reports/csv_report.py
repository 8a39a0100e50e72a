"""findings.csv: one row per finding, safe to open in a spreadsheet.

A cell a spreadsheet would run as a formula (leading =, +, -, @, tab or carriage return) gets a leading
apostrophe; reading the file back with pandas gives the same rows, apostrophe included.
https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from auditor.models.findings import FindingsDocument
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic

COLUMNS = ["check_id", "status", "severity", "integration", "resource", "message", "title", "remediation",
           "evidence", "references", "waiver", "tenant_id", "tenant_name", "collected_at", "fix"]
"""New columns go last: a consumer reading columns by position keeps working; the tenant and time columns keep a
portfolio's merged CSVs apart (one file per tenant, concatenated); `fix` is a FAIL's concrete fix (PowerShell)."""
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def frame(doc: FindingsDocument) -> pd.DataFrame:
    rows = []
    for f in doc.findings:
        waiver = ""
        if f.waiver:
            state = "expired" if f.waiver.get("expired") else "until"
            waiver = f"{f.waiver.get('reason', '')} ({state} {f.waiver.get('expires', '')})"
        rows.append({
            "check_id": f.check_id, "status": f.status.value, "severity": f.severity.value,
            "integration": f.integration, "resource": f.resource, "message": f.message, "title": f.title,
            "remediation": f.remediation,
            "evidence": json.dumps(f.evidence, separators=(",", ":"), ensure_ascii=False, sort_keys=True),
            "references": " ".join(f.references), "waiver": waiver,
            "tenant_id": doc.run.tenant_id, "tenant_name": doc.run.tenant_name, "collected_at": doc.run.collected_at,
            "fix": f.fix,
        })
    df = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    return df.map(lambda v: neutralise(str(v)))


def render(doc: FindingsDocument) -> str:
    return frame(doc).to_csv(index=False, lineterminator="\n")


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["csv"]
    write_atomic(path, render(doc))
    return path
