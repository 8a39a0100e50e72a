"""The file each report format writes into --out."""

from __future__ import annotations

# One place: the writers use it, and reports/output_set.py knows a folder of these files as an earlier run's.
FILE_NAMES: dict[str, str] = {
    "json": "findings.json", "csv": "findings.csv", "html": "report.html", "junit": "junit.xml",
    "markdown": "summary.md", "ps1": "remediation.ps1", "xlsx": "findings.xlsx", "ocsf": "findings.ocsf.json"}
