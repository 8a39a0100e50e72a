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


FailOn = Annotated[Severity, typer.Option("--fail-on", help="Lowest severity of a FAIL that makes the exit code 1.",
                                          case_sensitive=False)]
Formats = Annotated[list[ReportFormat] | None, typer.Option("--format", "-f", help="Report formats (repeat); "
                                                            "default all.")]
BaselineFile = Annotated[Path, typer.Option("--baseline", "-b", help="The baseline TOML file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on the terminal.")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True,
                                      help="Log to stderr: -v steps, -vv every request (secrets redacted).")]


def formats(fmt: list[ReportFormat] | None) -> tuple[str, ...]:
    return tuple(f.value for f in fmt or ReportFormat)
