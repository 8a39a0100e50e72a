"""The report formats added for other consumers (issue 15), each a module with render() and write(doc, out_dir).

Imported lazily: xlsx needs openpyxl and ocsf py-ocsf-models, loaded only when those formats are asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from auditor.models.findings import FindingsDocument


def _markdown(doc: FindingsDocument, out: Path) -> Path:
    from auditor.reports import markdown_report

    return markdown_report.write(doc, out)


def _ps1(doc: FindingsDocument, out: Path) -> Path:
    from auditor.reports import ps1_report

    return ps1_report.write(doc, out)


def _xlsx(doc: FindingsDocument, out: Path) -> Path:
    from auditor.reports import xlsx_report

    return xlsx_report.write(doc, out)


def _ocsf(doc: FindingsDocument, out: Path) -> Path:
    from auditor.reports import ocsf_report

    return ocsf_report.write(doc, out)


EXTRA_WRITERS: dict[str, Callable[[FindingsDocument, Path], Path]] = {
    "markdown": _markdown, "ps1": _ps1, "xlsx": _xlsx, "ocsf": _ocsf}
