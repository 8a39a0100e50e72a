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
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

try:  # typer >= 0.2x vendors click; older releases depend on it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef]

from auditor import __version__
from auditor.errors import AuditorError, ConfigError, InputError
from auditor.models.findings import Severity

if TYPE_CHECKING:
    from auditor.models.baseline import Baseline
    from auditor.models.snapshot import Snapshot

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
    html = "html"
    junit = "junit"


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
    formats = _formats(fmt)
    result = evaluate_and_report(snap, base, out, formats)
    typer.echo(result.summary_line())
    return result.exit_code(fail_on)


def _progress(quiet: bool) -> Callable[[str], None]:
    """One line per step on stderr when a person is watching; silent in CI, pipes and with --quiet."""
    if quiet or not sys.stderr.isatty():
        return lambda message: None
    return lambda message: typer.echo(f"auditor: {message}...", err=True)


def _write_snapshot(snapshot: Snapshot, path: Path) -> None:
    from auditor.reports.files import write_atomic

    write_atomic(path, snapshot.to_json())


def _finish(snapshot: Snapshot, base: Baseline, out: Path, formats: list[str], fail_on: Severity) -> int:
    from auditor.pipeline import evaluate_and_report

    _write_snapshot(snapshot, out / "snapshot.json")
    result = evaluate_and_report(snapshot, base, out, formats)
    for line in snapshot_problems(snapshot):
        typer.echo(f"auditor: {line}", err=True)
    typer.echo(result.summary_line())
    return result.exit_code(fail_on)


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")]


@app.command("collect")
def collect_command(
    baseline: Annotated[Path, typer.Option("--baseline", "-b", help="The baseline TOML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the snapshot.")] = Path("snapshot.json"),
    quiet: Quiet = False,
) -> int:
    """Collect evidence from the tenant into a snapshot (no evaluation). Exit 3 when a section failed."""
    from auditor.collect.auth import credentials_from_environment
    from auditor.collect.exchange_reader import read_exchange
    from auditor.collect.run import CollectionSettings, collect
    from auditor.models.baseline import load_baseline

    base = load_baseline(baseline)
    _require_live_settings(base)
    settings = CollectionSettings(credentials=credentials_from_environment(base.auth, str(baseline)),
                                  psrp_password=_psrp_password(base), progress=_progress(quiet))
    snapshot = collect(base, settings, read_exchange)
    _write_snapshot(snapshot, out)
    problems = snapshot_problems(snapshot)
    for line in problems:
        typer.echo(f"auditor: {line}", err=True)
    typer.echo(f"wrote {out}")
    return 3 if problems else 0


@app.command("audit")
def audit_command(
    baseline: Annotated[Path, typer.Option("--baseline", "-b", help="The baseline TOML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the snapshot and reports.")] = Path(
        "audit-out"),
    fail_on: FailOn = Severity.LOW,
    fmt: Formats = None,
    quiet: Quiet = False,
) -> int:
    """Collect, evaluate and report against a live tenant (settings from the baseline, secrets from the
    environment: AUDITOR_CLIENT_SECRET or AZURE_CLIENT_SECRET, AUDITOR_PSRP_PASSWORD)."""
    from auditor.collect.auth import credentials_from_environment
    from auditor.collect.exchange_reader import read_exchange
    from auditor.collect.run import CollectionSettings, collect
    from auditor.models.baseline import load_baseline

    base = load_baseline(baseline)
    _require_live_settings(base)
    settings = CollectionSettings(credentials=credentials_from_environment(base.auth, str(baseline)),
                                  psrp_password=_psrp_password(base), progress=_progress(quiet))
    snapshot = collect(base, settings, read_exchange)
    return _finish(snapshot, base, out, _formats(fmt), fail_on)


@app.command("demo")
def demo_command(
    tenant: Annotated[Path | None, typer.Option("--tenant", "-t", help="Tenant file (default: the bundled demo "
                                                "tenant).")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", "-b", help="Baseline (default: the bundled demo "
                                                  "baseline).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the snapshot and reports.")] = Path(
        "demo-out"),
    fail_on: FailOn = Severity.LOW,
    fmt: Formats = None,
    faults: Annotated[str | None, typer.Option("--faults", help="Fault injection for the emulator, e.g. "
                                               "seed=7,latency_ms=20,throttle_every=5 (see docs/emulator.md).")] = None,
    quiet: Quiet = False,
) -> int:
    """Run the full live audit against the embedded tenant emulator (HTTPS, msal, requests, pypsrp)."""
    from auditor.collect.exchange_reader import read_exchange
    from auditor.collect.run import collect
    from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
    from auditor.emulator.faults import FaultPlan
    from auditor.models.baseline import load_baseline

    base = load_baseline(baseline or DEMO_BASELINE)
    plan = FaultPlan.parse(faults) if faults else None
    progress = _progress(quiet)
    progress("starting the tenant emulator")
    with running_emulator(tenant or DEMO_TENANT, plan) as server:
        aimed = emulator_baseline(base, server)
        settings = emulator_settings(server)
        settings.progress = progress
        snapshot = collect(aimed, settings, read_exchange)
    return _finish(snapshot, aimed, out, _formats(fmt), fail_on)


@app.command("emulator")
def emulator_command(
    tenant: Annotated[Path | None, typer.Option("--tenant", "-t", help="Tenant file (default: the bundled demo "
                                                "tenant).")] = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")] = 0,
    faults: Annotated[str | None, typer.Option("--faults", help="Fault injection, as for `auditor demo`.")] = None,
) -> int:
    """Serve the tenant emulator in the foreground; print its endpoints and a baseline that points at it."""
    import time

    from auditor.demo import DEMO_TENANT, baseline_toml, running_emulator
    from auditor.emulator.faults import FaultPlan

    plan = FaultPlan.parse(faults) if faults else None
    source = tenant or DEMO_TENANT
    with running_emulator(source, plan, port=port) as server:
        typer.echo(f"# tenant emulator for {server.tenant.display_name} ({server.tenant.id})")
        typer.echo(f"# Entra authority: {server.authority}")
        typer.echo(f"# Graph:           {server.base_url}/v1.0")
        typer.echo(f"# WSMan/PSRP:      {server.base_url}/wsman")
        typer.echo(f"# CA certificate:  {server.ca_path}")
        typer.echo("# Secrets come from the environment, as in a real run: set AUDITOR_CLIENT_SECRET to")
        typer.echo(f"# emulator.clients[0].secret and AUDITOR_PSRP_PASSWORD to emulator.jumpHost.password of {source}")
        typer.echo("# A baseline for it: save as emulator.toml, add your integrations, then run")
        typer.echo("#   auditor audit --baseline emulator.toml")
        typer.echo(baseline_toml(server))
        typer.echo("# serving; press Ctrl+C to stop", err=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("# stopped", err=True)
    return 0


def _formats(fmt: list[ReportFormat] | None) -> list[str]:
    return [f.value for f in fmt] if fmt else [f.value for f in ReportFormat]


def _psrp_password(base: Baseline) -> str | None:
    import os

    if base.exchange.transport != "psrp" or base.exchange.auth in ("certificate",):
        return None
    password = os.environ.get("AUDITOR_PSRP_PASSWORD")
    if not password and base.exchange.auth == "basic":
        raise ConfigError("no password for the jump host account: set AUDITOR_PSRP_PASSWORD")
    return password


def _require_live_settings(base: Baseline) -> None:
    missing = [key for key, value in (("tenant.id", base.tenant.id), ("auth.client_id", base.auth.client_id))
               if not value]
    if base.exchange.transport == "psrp" and not base.exchange.server:
        missing.append("exchange.server")
    if base.exchange.transport == "psrp" and base.exchange.connect == "jump-host" and not base.tenant.domain:
        missing.append("tenant.domain")
    if missing:
        raise ConfigError(f"{base.source}: {', '.join(missing)}: required for a live run")


def snapshot_problems(snapshot: Snapshot) -> list[str]:
    """One line per distinct collection failure, for stderr."""
    seen: dict[str, list[str]] = {}
    for name, section in sorted(snapshot.sections.items()):
        if section.status.value == "error":
            seen.setdefault(section.error or "unknown error", []).append(name)
    return [f"collection failed ({', '.join(names)}): {error}" for error, names in seen.items()]


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
