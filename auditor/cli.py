"""The `auditor` command line (Typer). Exit codes are mapped in one place: `main`.

Exit codes (README.md, "Exit codes"), first match wins:
  2  usage, configuration or input error (nothing audited)
  3  the audit is incomplete: some finding is ERROR
  1  at least one FAIL (not waived) at or above --fail-on (default low)
  0  compliant
  4  internal error (a bug): the traceback goes to a log file, one line to stderr
  130/143  interrupted by SIGINT (Ctrl+C) / SIGTERM: what was not read is ERROR, the reports are written
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from typing import Annotated, Any

import typer

try:  # typer >= 0.2x vendors click; older releases depend on it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef]

from auditor import __version__
from auditor.collect import children
from auditor.collect.children import install_signal_handlers
from auditor.commands import history, live, merge, offline, preflight
from auditor.errors import AuditorError
from auditor.redact import redact
from auditor.terminal import guarded_streams

EXIT_HELP = ("Exit codes: 0 compliant; 1 a FAIL at or above --fail-on; 2 usage, configuration or input error; "
             "3 incomplete audit (an ERROR finding); 4 internal error; 130 interrupted (Ctrl+C), 143 stopped by "
             "SIGTERM.")

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
app.command("preflight")(preflight.preflight_command)
app.command("audit")(live.audit_command)
app.command("merge-portfolio")(merge.merge_portfolio_command)
app.command("collect")(live.collect_command)
app.command("evaluate")(offline.evaluate_command)
app.command("report")(offline.report_command)
app.command("checks")(offline.checks_command)
app.command("init")(offline.init_command)
app.command("emulator")(live.emulator_command)
app.command("history")(history.history_command)
app.command("diff")(history.diff_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the command and maps every outcome to a documented exit code.

    Everything printed meanwhile goes through auditor.terminal: tenant data shows as text, never as escape
    sequences the terminal would obey."""
    install_signal_handlers()  # Ctrl+C and SIGTERM end the local pwsh children first
    with guarded_streams():
        code = _run(argv)
        stopped = children.interrupted_exit_code()
        if stopped is not None:  # the run wound down by itself: say so once, and exit as documented
            typer.echo(f"auditor: interrupted: {children.signal_name()}; the run stopped early "
                       f"(what was not read is ERROR; reports, if any, were written)", err=True)
            code = stopped
    sys.exit(code if isinstance(code, int) else 0)


def _run(argv: list[str] | None) -> int | Any:
    try:
        code = app(args=argv, standalone_mode=False, prog_name="auditor")
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:  # click turns a KeyboardInterrupt into Abort
        if children.interrupted_exit_code() is None:
            typer.echo("auditor: interrupted: SIGINT", err=True)
        code = 130
    except ClickException as exc:
        typer.echo(f"auditor: error: {_one_line(exc.format_message())}{_help_hint(exc)}", err=True)
        code = 2
    except AuditorError as exc:
        typer.echo(f"auditor: error: {_one_line(redact(str(exc)))}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        if children.interrupted_exit_code() is None:
            typer.echo("auditor: interrupted: SIGINT", err=True)
        code = 130
    except Exception as exc:
        where = _write_crash_log(traceback.format_exc())
        typer.echo(f"auditor: internal error ({type(exc).__name__}); {where}; please report it", err=True)
        code = 4
    return code


def _write_crash_log(text: str) -> str:
    """A new private file per crash (mkstemp: O_EXCL, mode 0600), so no one can plant a symlink at a fixed
    name in the shared temp directory; secrets that reached an exception message are redacted first."""
    try:
        fd, name = tempfile.mkstemp(prefix="auditor-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as log:
            log.write(redact(text))
    except OSError:
        return "traceback could not be written"
    return f"traceback in {name}"


def _help_hint(exc: ClickException) -> str:
    """Usage errors point at the command's help, on the same line (bad input is one line on stderr)."""
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} --help')" if ctx is not None else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())
