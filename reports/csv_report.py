"""findings.csv: one row per finding, safe to open in a spreadsheet.

A cell a spreadsheet would run as a formula (leading =, +, -, @, tab or carriage return) gets a leading
apostrophe; reading the file back with pandas gives the same rows, apostrophe included.
https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.models.findings import FindingsDocument
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["check_id", "status", "severity", "integration", "resource", "message", "title", "remediation",
           "evidence", "references", "waiver", "tenant_id", "tenant_name", "collected_at", "fix"]
"""New columns go last: a consumer reading columns by position keeps working; the tenant and time columns keep a
portfolio's merged CSVs apart (one file per tenant, concatenated); `fix` is a FAIL's concrete fix (PowerShell)."""
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def rows(doc: FindingsDocument) -> list[list[str]]:
    """Each finding's cells in COLUMNS order, formula-neutral."""
    run = [neutralise(str(v)) for v in (doc.run.tenant_id, doc.run.tenant_name, doc.run.collected_at)]
    out = []
    for f in doc.findings:
        waiver = ""
        if f.waiver:
            state = "expired" if f.waiver.get("expired") else "until"
            waiver = f"{f.waiver.get('reason', '')} ({state} {f.waiver.get('expires', '')})"
        cells = (f.check_id, f.status.value, f.severity.value, f.integration, f.resource, f.message, f.title,
                 f.remediation,
                 json.dumps(f.evidence, separators=(",", ":"), ensure_ascii=False, sort_keys=True),
                 " ".join(f.references), waiver)
        out.append([*(neutralise(str(v)) for v in cells), *run, neutralise(str(f.fix))])
    return out


def frame(doc: FindingsDocument) -> pd.DataFrame:
    """The rows as a DataFrame, for the workbook (xlsx_report.py); pandas loads only when one is asked for."""
    import pandas as pd

    return pd.DataFrame(rows(doc), columns=COLUMNS, dtype=object)


def render(doc: FindingsDocument) -> str:
    """The csv module's minimal quoting, as pandas' to_csv writes it (which calls the same writer), without
    building a DataFrame first."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(doc))
    return text.getvalue()


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["csv"]
    write_atomic(path, render(doc))
    return path
