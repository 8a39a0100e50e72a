"""The `auditor` command line (Typer). Exit codes are mapped in one place: `main`.

Exit codes (DESIGN.md section 6), first match wins:
  2  usage, configuration or input error (nothing audited)
  3  the audit is incomplete: some finding is ERROR
  1  at least one FAIL (not waived) at or above --fail-on (default low)
  0  compliant
  4  internal error (a bug): the traceback goes to a log file, one line to stderr
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

try:  # typer >= 0.2x vendors click; older releases depend on it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef]

from auditor import __version__
from auditor.errors import AuditorError, ConfigError, InputError
from auditor.models.findings import Severity

EXIT_HELP = ("Exit codes: 0 compliant; 1 a FAIL at or above --fail-on; 2 usage, configuration or input error; "
             "3 incomplete audit (an ERROR finding); 4 internal error.")

app = typer.Typer(
    name="auditor",
    help="Read-only compliance auditor for Microsoft 365 apps that reach mailboxes. " + EXIT_HELP,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class CatalogFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"auditor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Read-only compliance auditor for Microsoft 365 apps that reach mailboxes."""


@app.command("checks")
def checks_command(
    fmt: Annotated[CatalogFormat, typer.Option("--format", "-f", help="table, json or markdown.")] = (
        CatalogFormat.table),
) -> int:
    """List the check catalog."""
    from auditor.catalog_doc import render_catalog

    typer.echo(render_catalog(fmt.value), nl=False)
    return 0


FailOn = Annotated[Severity, typer.Option("--fail-on", help="Lowest severity of a FAIL that makes the exit code 1.",
                                          case_sensitive=False)]
Formats = Annotated[list[ReportFormat] | None, typer.Option("--format", "-f", help="Report formats (repeat); "
                                                            "default all.")]


@app.command("evaluate")
def evaluate_command(
    snapshot: Annotated[Path, typer.Argument(help="A snapshot.json written by `auditor collect` or `auditor demo`.")],
    baseline: Annotated[Path, typer.Option("--baseline", "-b", help="The baseline TOML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the reports.")] = Path("audit-out"),
    fail_on: FailOn = Severity.LOW,
    fmt: Formats = None,
) -> int:
    """Re-evaluate saved evidence offline: same snapshot and baseline, same findings."""
    from auditor.models.baseline import load_baseline
    from auditor.models.snapshot import load_snapshot
    from auditor.pipeline import evaluate_and_report

    base = load_baseline(baseline)
    snap = load_snapshot(snapshot)
    formats = [f.value for f in fmt] if fmt else [f.value for f in ReportFormat]
    result = evaluate_and_report(snap, base, out, formats)
    typer.echo(result.summary_line())
    return result.exit_code(fail_on)


@app.command("report")
def report_command(
    findings: Annotated[Path, typer.Argument(help="A findings.json written by an earlier run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the reports.")] = Path("audit-out"),
    fmt: Formats = None,
) -> int:
    """Re-render reports from findings.json without re-evaluating."""
    from auditor.models.findings import FindingsDocument
    from auditor.pipeline import write_reports

    try:
        raw = json.loads(findings.read_text(encoding="utf-8"))
        doc = FindingsDocument.from_dict(raw)
    except FileNotFoundError:
        raise InputError(f"{findings}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{findings}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{findings}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{findings}: not a findings.json document ({type(exc).__name__}: {exc})") from None
    formats = [f.value for f in fmt] if fmt else [f.value for f in ReportFormat]
    for path in write_reports(doc, out, formats):
        typer.echo(f"wrote {path}")
    return 0


@app.command("init")
def init_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the starter baseline; - for stdout.")] = Path(
        "baseline.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> int:
    """Write a commented starter baseline listing every key."""
    from auditor.reports.files import write_atomic
    from auditor.starter import STARTER_BASELINE

    if str(out) == "-":
        typer.echo(STARTER_BASELINE, nl=False)
        return 0
    if out.exists() and not force:
        raise ConfigError(f"{out}: already exists (use --force to overwrite)")
    write_atomic(out, STARTER_BASELINE)
    typer.echo(f"wrote {out}: fill in [tenant], [auth] and your [[integration]] entries")
    return 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the command and maps every outcome to a documented exit code."""
    try:
        code = app(args=argv, standalone_mode=False, prog_name="auditor")
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        typer.echo("auditor: aborted", err=True)
        code = 2
    except ClickException as exc:
        exc.show()
        code = 2
    except AuditorError as exc:
        typer.echo(f"auditor: error: {_one_line(str(exc))}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        typer.echo("auditor: interrupted", err=True)
        code = 130
    except Exception:
        log = Path(tempfile.gettempdir()) / "auditor-crash.log"
        try:
            log.write_text(traceback.format_exc(), encoding="utf-8")
            where = f"traceback in {log}"
        except OSError:
            where = "traceback could not be written"
        typer.echo(f"auditor: internal error ({sys.exc_info()[0].__name__}); {where}; please report it", err=True)
        code = 4
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
