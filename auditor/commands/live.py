"""Commands that reach a tenant: the real one (collect, audit) or the embedded emulator (demo, emulator)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditor.commands.history import FailOnNew, HistoryOption, NoHistory
from auditor.commands.options import BaselineFile, FailOn, Formats, Quiet, Verbose, formats
from auditor.console import Console
from auditor.errors import ConfigError
from auditor.models.baseline import Baseline
from auditor.models.findings import Severity
from auditor.models.snapshot import Snapshot
from auditor.redact import register


class ExchangeTransport(StrEnum):
    """The Exchange transports `auditor demo` can use against the emulator."""

    PSRP = "psrp"
    REST = "rest"


OutDir = Annotated[Path, typer.Option("--out", "-o", help="Directory for the snapshot and reports.")]
Insecure = Annotated[bool, typer.Option(
    "--insecure-skip-tls-verify",
    help="Do not verify TLS certificates (Graph, sign-in, Exchange). Only for a lab behind broken TLS "
         "inspection: prefer [auth] ca_bundle. The run says so on stderr and in every report.")]
RealismOption = Annotated[str | None, typer.Option(
    "--realism", help="Which undocumented Exchange forms the emulator serves, e.g. "
    "mailboxId=mailbox_sid,noPolicies=error; overrides the tenant file's emulator.realism (docs/emulator.md).")]
INSECURE_WARNING = "auditor: warning: TLS verification is disabled (--insecure-skip-tls-verify)"


def collect_command(
    baseline: BaselineFile,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the snapshot.")] = Path("snapshot.json"),
    quiet: Quiet = False,
    verbose: Verbose = 0,
    insecure: Insecure = False,
) -> int:
    """Collect evidence from the tenant into a snapshot (no evaluation). Exit 3 when a section failed."""
    with Console(quiet, verbose) as console:
        _, snapshot = _collect_live(baseline, console, insecure)
    _write_snapshot(snapshot, out)
    problems = snapshot_problems(snapshot)
    for line in problems:
        typer.echo(f"auditor: {line}", err=True)
    typer.echo(f"wrote {out}")
    return 3 if problems else 0


def audit_command(
    baseline: Annotated[Path | None, typer.Option("--baseline", "-b", help="The baseline TOML file.",
                                                  show_default=False)] = None,
    out: OutDir = Path("audit-out"),
    fail_on: FailOn = Severity.LOW,
    fmt: Formats = None,
    history: HistoryOption = None,
    no_history: NoHistory = False,
    fail_on_new: FailOnNew = False,
    history_snapshot: Annotated[bool, typer.Option("--history-snapshot", help="Also store the raw snapshot in "
                                                   "the history (it holds no secrets, but is large).")] = False,
    portfolio: Annotated[Path | None, typer.Option(
        "--portfolio", help="Audit every tenant of a portfolio file (TOML) at once; see docs/scheduling.md.",
        show_default=False)] = None,
    quiet: Quiet = False,
    verbose: Verbose = 0,
    insecure: Insecure = False,
) -> int:
    """Collect, evaluate and report against a live tenant. Settings come from the baseline; secrets from the
    environment (AUDITOR_CLIENT_SECRET or AZURE_CLIENT_SECRET, AUDITOR_PSRP_PASSWORD) or a certificate file.
    Each run is compared with the last one of the same tenant and baseline, and recorded (--no-history: not)."""
    from auditor.commands.history import finish_run, open_history
    from auditor.models.baseline import load_baseline

    if portfolio is not None:
        from auditor.portfolio import run_portfolio

        if baseline is not None:
            raise ConfigError("--baseline and --portfolio: choose one (the portfolio names each tenant's baseline)")
        return run_portfolio(portfolio, out, formats(fmt), fail_on, history, no_history, fail_on_new, quiet, verbose)
    if baseline is None:
        raise ConfigError("--baseline FILE is required (or --portfolio FILE)")
    store = open_history(history, no_history, load_baseline(baseline), fail_on_new)
    with Console(quiet, verbose) as console:
        base, snapshot = _collect_live(baseline, console, insecure)
        return finish_run(snapshot, base, out, formats(fmt), fail_on, console, store, fail_on_new, history_snapshot)


def demo_command(
    tenant: Annotated[Path | None, typer.Option("--tenant", "-t", help="Tenant file (default: the bundled demo "
                                                "tenant).")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", "-b", help="Baseline (default: the bundled demo "
                                                  "baseline).")] = None,
    out: OutDir = Path("demo-out"),
    fail_on: FailOn = Severity.LOW,
    fmt: Formats = None,
    faults: Annotated[str | None, typer.Option("--faults", help="Fault injection for the emulator, e.g. "
                                               "seed=7,latency_ms=20,throttle_every=5 (docs/emulator.md).")] = None,
    realism: RealismOption = None,
    exchange_transport: Annotated[ExchangeTransport | None, typer.Option(
        "--exchange-transport", help="How Exchange is reached: psrp (the default; a jump host over PowerShell "
        "remoting) or rest (experimental: the module's undocumented InvokeCommand endpoint). Overrides the "
        "baseline's [exchange] transport.", show_default=False)] = None,
    history: HistoryOption = None,
    no_history: NoHistory = False,
    fail_on_new: FailOnNew = False,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> int:
    """Run the full live audit against the embedded tenant emulator (HTTPS, msal, requests, pypsrp).
    History only when asked (--history PATH, or history.path in the baseline)."""
    from auditor.collect.exchange_reader import read_exchange
    from auditor.collect.run import collect
    from auditor.commands.history import finish_run, open_history
    from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
    from auditor.emulator.faults import FaultPlan
    from auditor.emulator.realism import Realism
    from auditor.models.baseline import load_baseline

    base = load_baseline(baseline or DEMO_BASELINE)
    if exchange_transport is not None:
        base = replace(base, exchange=replace(base.exchange, transport=exchange_transport.value))
    plan = FaultPlan.parse(faults) if faults else None
    Realism().with_spec(realism)  # a bad --realism fails here, before anything starts
    store = open_history(history, no_history, base, fail_on_new, on_by_default=False)
    with Console(quiet, verbose) as console:
        console.step("starting the tenant emulator")
        with running_emulator(tenant or DEMO_TENANT, plan, realism=realism) as server:
            aimed = emulator_baseline(base, server)
            settings = emulator_settings(server)
            register(*settings.credentials.secrets(), settings.psrp_password)
            settings.progress, settings.done = console.step, console.done
            snapshot = collect(aimed, settings, read_exchange)
        return finish_run(snapshot, aimed, out, formats(fmt), fail_on, console, store, fail_on_new)


def emulator_command(
    tenant: Annotated[Path | None, typer.Option("--tenant", "-t", help="Tenant file (default: the bundled demo "
                                                "tenant).")] = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")] = 0,
    faults: Annotated[str | None, typer.Option("--faults", help="Fault injection, as for `auditor demo`.")] = None,
    realism: RealismOption = None,
) -> int:
    """Serve the tenant emulator in the foreground; print its endpoints and a baseline that points at it."""
    from auditor.demo import DEMO_TENANT, baseline_toml, running_emulator
    from auditor.emulator.faults import FaultPlan
    from auditor.emulator.realism import Realism, realism_of

    plan = FaultPlan.parse(faults) if faults else None
    Realism().with_spec(realism)
    source = tenant or DEMO_TENANT
    with running_emulator(source, plan, port=port, realism=realism) as server:
        typer.echo(f"# tenant emulator for {server.tenant.display_name} ({server.tenant.id})")
        typer.echo(f"# Entra authority: {server.authority}")
        typer.echo(f"# Graph:           {server.base_url}/v1.0")
        typer.echo(f"# WSMan/PSRP:      {server.base_url}/wsman")
        typer.echo(f"# CA certificate:  {server.ca_path}")
        typer.echo(f"# Exchange realism: {realism_of(server.tenant.doc).describe()} (docs/emulator.md)")
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


def _collect_live(baseline_file: Path, console: Console, insecure: bool = False) -> tuple[Baseline, Snapshot]:
    from auditor.collect.auth import credentials_from_environment
    from auditor.collect.exchange_reader import read_exchange
    from auditor.collect.run import CollectionSettings, collect
    from auditor.models.baseline import load_baseline

    base = load_baseline(baseline_file)
    _require_live_settings(base)
    credentials = credentials_from_environment(base.auth, str(baseline_file))
    password = _psrp_password(base)
    register(*credentials.secrets(), password)
    settings = CollectionSettings(credentials=credentials, psrp_password=password, progress=console.step,
                                  done=console.done, verify_tls=not insecure)
    if insecure:
        typer.echo(INSECURE_WARNING, err=True)
    return base, collect(base, settings, read_exchange)


def _write_snapshot(snapshot: Snapshot, path: Path) -> None:
    from auditor.reports.files import write_atomic

    write_atomic(path, snapshot.to_json())


def _psrp_password(base: Baseline) -> str | None:
    if base.exchange.transport != "psrp" or base.exchange.auth == "certificate":
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
    lines = [f"collection failed ({', '.join(names)}): {error}" for error, names in seen.items()]
    items = [(name, key, error) for name, section in sorted(snapshot.sections.items())
             for key, error in sorted(section.item_errors.items())]
    if items:
        name, key, error = items[0]
        more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
        lines.append(f"collection incomplete: {len(items)} item(s) could not be read, e.g. {name} {key}: "
                     f"{error}{more}")
    return lines
