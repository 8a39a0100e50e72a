"""Options shared by several commands."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditor.models.findings import Severity


class CatalogFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"
    html = "html"
    junit = "junit"
    markdown = "markdown"
    ps1 = "ps1"
    xlsx = "xlsx"
    ocsf = "ocsf"


# Without --format: every format cheap to write and read by the people in the loop. xlsx and ocsf are for a
# consumer who asks for them (a consultant's workbook, a SIEM feed): docs/architecture.md, "Report formats".
DEFAULT_FORMATS = (ReportFormat.json, ReportFormat.csv, ReportFormat.html, ReportFormat.junit, ReportFormat.markdown,
                   ReportFormat.ps1)


FailOn = Annotated[Severity, typer.Option("--fail-on", help="Lowest severity of a FAIL that makes the exit code 1.",
                                          case_sensitive=False)]


def _report_formats(values: list[str] | None) -> list[ReportFormat] | None:
    """`-f html,csv` and `-f html -f csv` alike; an unknown name is a usage error (one line, exit 2)."""
    if not values:
        return None
    chosen: list[ReportFormat] = []
    for value in values:
        for name in filter(None, (part.strip().lower() for part in value.split(","))):
            try:
                fmt = ReportFormat(name)
            except ValueError:
                known = ", ".join(f.value for f in ReportFormat)
                raise typer.BadParameter(f"{name!r} is not a report format (one of {known})") from None
            if fmt not in chosen:
                chosen.append(fmt)
    if not chosen:
        raise typer.BadParameter("names no report format")
    return chosen


Formats = Annotated[list[str] | None, typer.Option(
    "--format", "-f", metavar="FORMAT[,FORMAT...]", callback=_report_formats,
    help="Report formats, comma-separated or repeated: json, csv, html, junit, markdown, ps1 (the default set), "
         "xlsx, ocsf.")]
BaselineFile = Annotated[Path, typer.Option("--baseline", "-b", help="The baseline TOML file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on the terminal.")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True,
                                      help="Log to stderr: -v steps, -vv every request (secrets redacted).")]


def formats(fmt: list[ReportFormat] | list[str] | None) -> tuple[str, ...]:
    return tuple(ReportFormat(f).value for f in fmt or DEFAULT_FORMATS)
