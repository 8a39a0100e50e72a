"""findings.xlsx: a workbook for consultants (Summary, Findings, Integrations, Tenant sweep, Waivers).

Each sheet has a frozen header row and an autofilter. Cells are formula-safe as in findings.csv (a leading =, +,
-, @, tab or carriage return gets an apostrophe), control characters are shown as escapes (the xlsx format cannot
hold most of them), and a cell longer than Excel's 32,767-character limit is cut with a marker.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from auditor.models.findings import FindingsDocument, Status
from auditor.reports import csv_report
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic
from auditor.reports.html_report import _threshold, verdict
from auditor.terminal import printable

SHEETS = ("Summary", "Findings", "Integrations", "Tenant sweep", "Waivers")
CELL_LIMIT = 32_767
CUT = " …[cut: longer than a spreadsheet cell holds; see findings.json]"


def cell(value: Any) -> Any:
    """A safe cell: numbers stay numbers; text is escaped, formula-neutral and within the cell limit."""
    if isinstance(value, bool) or value is None:
        value = "" if value is None else str(value).lower()
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = csv_report.neutralise(printable(value))
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - len(CUT)] + CUT


def _joined(values: Any) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else ("" if values is None else str(values))


def summary_frame(doc: FindingsDocument) -> pd.DataFrame:
    by_status = Counter(f.status for f in doc.findings)
    failing = Counter(f.severity for f in doc.findings if f.status is Status.FAIL)
    result = verdict(by_status, failing, _threshold(doc.summary.get("fail_on")))
    rows: list[tuple[str, Any]] = [
        ("Verdict", result.headline), ("Detail", result.detail), ("Tenant", doc.run.tenant_name),
        ("Tenant id", doc.run.tenant_id), ("Domain", doc.run.tenant_domain), ("Collected at", doc.run.collected_at),
        ("Baseline", doc.run.baseline_file), ("Baseline SHA-256", doc.run.baseline_sha256),
        ("Tool version", doc.run.tool_version), ("Findings", len(doc.findings)),
    ]
    rows += [(f"{s.value} findings", by_status[s]) for s in Status]
    rows += [(f"FAIL {sev}", n) for sev, n in sorted(failing.items(), key=lambda kv: kv[0].rank)]
    return pd.DataFrame(rows, columns=["Item", "Value"], dtype=object)


def findings_frame(doc: FindingsDocument) -> pd.DataFrame:
    return csv_report.frame(doc)  # already formula-neutral; the same columns as findings.csv


def integrations_frame(doc: FindingsDocument) -> pd.DataFrame:
    fails = Counter(f.integration for f in doc.findings if f.status is Status.FAIL)
    errors = Counter(f.integration for f in doc.findings if f.status is Status.ERROR)
    rows = []
    for item in doc.inventory.get("integrations") or []:
        if not isinstance(item, dict):
            continue
        perms = item.get("permissions") or {}
        group = item.get("scope_group") or {}
        rows.append({
            "name": item.get("name", ""), "app_id": item.get("app_id", ""), "display_name": item.get("display_name"),
            "access_model": item.get("access_model", ""), "FAIL": fails[item.get("name", "")],
            "ERROR": errors[item.get("name", "")],
            "baseline_permissions": _joined(perms.get("baseline")),
            "granted_permissions": _joined(perms.get("granted")),
            "requested_permissions": _joined(perms.get("requested")),
            "scope_group": group.get("address", "") if isinstance(group, dict) else "",
            "scope_group_members": _joined(group.get("members")) if isinstance(group, dict) else "",
            "policies": len(item.get("policies") or []), "rbac_assignments": len(item.get("rbac_assignments") or []),
            "credentials": len(item.get("credentials") or []),
            "access_tests": "; ".join(f"{t.get('mailbox')} ({t.get('role')}): {t.get('AccessCheckResult')}"
                                      for t in item.get("access_tests") or [] if isinstance(t, dict)),
        })
    return pd.DataFrame(rows, columns=["name", "app_id", "display_name", "access_model", "FAIL", "ERROR",
                                       "baseline_permissions", "granted_permissions", "requested_permissions",
                                       "scope_group", "scope_group_members", "policies", "rbac_assignments",
                                       "credentials", "access_tests"], dtype=object)


def sweep_frame(doc: FindingsDocument) -> pd.DataFrame:
    columns = ["app_id", "display_name", "mailbox_permissions", "takeover_permissions", "rbac_mailbox_roles",
               "policies"]
    sweep = doc.inventory.get("sweep")
    rows = [{k: _joined(item.get(k)) for k in columns} for item in sweep or [] if isinstance(item, dict)] \
        if isinstance(sweep, list) else []
    return pd.DataFrame(rows, columns=columns, dtype=object)


def waivers_frame(doc: FindingsDocument) -> pd.DataFrame:
    columns = ["check", "resource", "reason", "expires", "state", "days_left", "matched", "stale"]
    return pd.DataFrame([w.to_dict() for w in doc.waivers], columns=columns, dtype=object)


def render(doc: FindingsDocument) -> bytes:
    frames = dict(zip(SHEETS, (summary_frame(doc), findings_frame(doc), integrations_frame(doc), sweep_frame(doc),
                               waivers_frame(doc)), strict=True))
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in frames.items():
            frame.map(cell).to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            sheet.auto_filter.ref = sheet.dimensions
            for column in sheet.columns:  # readable widths, capped: long text wraps in the cell instead
                width = max((len(str(c.value)) for c in column[:200] if c.value is not None), default=8)
                sheet.column_dimensions[column[0].column_letter].width = min(max(width, 8) + 2, 60)
            for row in sheet.iter_rows():  # text stays text: no cell is ever stored as a formula
                for c in row:
                    if c.data_type == "f":
                        c.data_type = "s"
    return buffer.getvalue()


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["xlsx"]
    write_atomic(path, render(doc))
    return path
