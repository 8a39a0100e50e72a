"""The `auditor` command line (Typer). Exit codes are mapped in one place: `main`.

Exit codes (DESIGN.md section 6), first match wins:
  2  usage, configuration or input error (nothing audited)
  3  the audit is incomplete: some finding is ERROR
  1  at least one FAIL (not waived) at or above --fail-on (default low)
  0  compliant
  4  internal error (a bug): the traceback goes to a log file, one line to stderr
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path
from typing import Annotated

import typer

try:  # typer >= 0.2x vendors click; older releases depend on it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef]

from auditor import __version__
from auditor.commands import live, offline
from auditor.errors import AuditorError
from auditor.redact import redact

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


# The commands, in the order `auditor --help` lists them. Explicit: no registration by import side effects.
app.command("demo")(live.demo_command)
app.command("audit")(live.audit_command)
app.command("collect")(live.collect_command)
app.command("evaluate")(offline.evaluate_command)
app.command("report")(offline.report_command)
app.command("checks")(offline.checks_command)
app.command("init")(offline.init_command)
app.command("emulator")(live.emulator_command)


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
        typer.echo(f"auditor: error: {_one_line(redact(str(exc)))}", err=True)
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
