"""Commands that reach a tenant: the real one (collect, audit) or the embedded emulator (demo, emulator).

They parse options and print; the run itself (settings, secrets, history, reports, exit code) is auditor/runs.py.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.commands.history import FailOnNew, HistoryOption, NoHistory
from auditor.commands.options import BaselineFile, FailOn, Formats, Quiet, Verbose, formats
from auditor.console import Console
from auditor.errors import ConfigError
from auditor.models.baseline import Baseline, ExchangeTransport, load_baseline
from auditor.models.findings import Severity
from auditor.runs import (
    INSECURE_WARNING,
    FinishedRun,
    RunOptions,
    check_outputs,
    collect_run,
    finish_run,
    live_settings,
    open_history,
    recorded_profile,
    session_warnings,
    single_output,
    snapshot_problems,
    write_snapshot,
)
from auditor.shards import WHOLE, Shard, parse_shard

if TYPE_CHECKING:
    from auditor.emulator.server import EmulatorServer

OutDir = Annotated[Path, typer.Option("--out", "-o", help="Directory for the snapshot and reports.")]
Insecure = Annotated[bool, typer.Option(
    "--insecure-skip-tls-verify",
    help="Do not verify TLS certificates (Graph, sign-in, Exchange). Only for a lab behind broken TLS "
         "inspection: prefer [auth] ca_bundle. The run says so on stderr and in every report.")]
RealismOption = Annotated[str | None, typer.Option(
    "--realism", help="Which undocumented Exchange forms the emulator serves, e.g. "
    "mailboxId=mailbox_sid,noPolicies=error; overrides the tenant file's emulator.realism (docs/emulator.md).")]


def _shard_option(value: str | None) -> str | None:
    """`--shard I/N` checked as the options are parsed: a bad value is one usage line (exit 2)."""
    if value is not None:
        try:
            parse_shard(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


ShardOption = Annotated[str | None, typer.Option(
    "--shard", metavar="I/N", callback=_shard_option, show_default=False,
    help="With --portfolio: audit only shard I of N (1-based), for one machine of N; each tenant falls in exactly "
         "one shard, by its name. `auditor merge-portfolio` joins the shards' folders (docs/scheduling.md).")]
HistorySnapshot = Annotated[bool, typer.Option("--history-snapshot", help="Also store the raw snapshot in the "
                                               "history (it holds no secrets, but is large).")]


def collect_command(
    baseline: BaselineFile,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the snapshot.")] = Path("snapshot.json"),
    quiet: Quiet = False,
    verbose: Verbose = 0,
    insecure: Insecure = False,
) -> int:
    """Collect evidence from the tenant into a snapshot (no evaluation). Exit 3 when a section failed."""
    base = load_baseline(baseline)
    settings = live_settings(base, RunOptions(out=out.parent, verify_tls=not insecure))
    out = single_output(out, "snapshot.json")
    _warn_before_run(insecure, base)
    with Console(quiet, verbose) as console:
        snapshot = collect_run(base, settings, console)
    write_snapshot(snapshot, out)
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
    history_snapshot: HistorySnapshot = False,
    portfolio: Annotated[Path | None, typer.Option(
        "--portfolio", help="Audit every tenant of a portfolio file (TOML) at once; see docs/scheduling.md.",
        show_default=False)] = None,
    shard: ShardOption = None,
    quiet: Quiet = False,
    verbose: Verbose = 0,
    insecure: Insecure = False,
    preflight: Annotated[Path | None, typer.Option(
        "--preflight", help="A recorded `auditor preflight --out` file, named in the reports (default: "
        "preflight.json beside the baseline, if there is one).", show_default=False)] = None,
) -> int:
    """Collect, evaluate and report against a live tenant. Settings come from the baseline; secrets from the
    environment (AUDITOR_CLIENT_SECRET or AZURE_CLIENT_SECRET, AUDITOR_PSRP_PASSWORD) or a certificate file.
    Each run is compared with the last one of the same tenant and baseline, and recorded (--no-history: not)."""
    options = RunOptions(out=out, formats=formats(fmt), fail_on=fail_on, history=history, no_history=no_history,
                         fail_on_new=fail_on_new, keep_snapshot=history_snapshot, verify_tls=not insecure)
    if shard is not None and portfolio is None:
        raise ConfigError("--shard splits a portfolio: it needs --portfolio FILE")
    if portfolio is not None:
        if baseline is not None:
            raise ConfigError("--baseline and --portfolio: choose one (the portfolio names each tenant's baseline)")
        if preflight is not None:
            raise ConfigError("--preflight names one tenant's record: it does not go with --portfolio")
        check_outputs(options, portfolio=True)
        return _audit_portfolio(portfolio, options, quiet, verbose, parse_shard(shard) if shard else WHOLE)
    if baseline is None:
        raise ConfigError("--baseline FILE is required (or --portfolio FILE)")
    base = load_baseline(baseline)
    profile = recorded_profile(preflight, base)
    store = open_history(options, base)
    settings = live_settings(base, options)
    check_outputs(options)
    _warn_before_run(insecure, base)
    with Console(quiet, verbose) as console:
        snapshot = collect_run(base, settings, console)
        snapshot.collection.update(profile or {})
        return _finished(finish_run(snapshot, base, out, options, store, console))


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
        "remoting), local (a pwsh child on this machine; here the emulator's stand-in for pwsh), rest "
        "(experimental: the module's undocumented InvokeCommand endpoint) or none (not read). Overrides the "
        "baseline's [exchange] transport.", show_default=False)] = None,
    history: HistoryOption = None,
    no_history: NoHistory = False,
    fail_on_new: FailOnNew = False,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> int:
    """Run the full live audit against the embedded tenant emulator (HTTPS, msal, requests, pypsrp).
    History only when asked (--history PATH, or history.path in the baseline)."""
    from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
    from auditor.emulator.faults import FaultPlan
    from auditor.emulator.realism import Realism

    options = RunOptions(out=out, formats=formats(fmt), fail_on=fail_on, history=history, no_history=no_history,
                         fail_on_new=fail_on_new)
    base = load_baseline(baseline or DEMO_BASELINE)
    if exchange_transport is not None:
        base = replace(base, exchange=replace(base.exchange, transport=exchange_transport))
    plan = FaultPlan.parse(faults) if faults else None
    Realism().with_spec(realism)  # a bad --realism fails here, before anything starts
    store = open_history(options, base, on_by_default=False)
    check_outputs(options)
    with Console(quiet, verbose) as console:
        console.step("starting the tenant emulator")
        with running_emulator(tenant or DEMO_TENANT, plan, realism=realism) as server:
            aimed = emulator_baseline(base, server)
            snapshot = collect_run(aimed, emulator_settings(server), console)
        return _finished(finish_run(snapshot, aimed, out, options, store, console))


def emulator_command(
    tenant: Annotated[Path | None, typer.Option("--tenant", "-t", help="Tenant file (default: the bundled demo "
                                                "tenant).")] = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port, or the one kept in "
                                      "--state-dir).")] = 0,
    faults: Annotated[str | None, typer.Option("--faults", help="Fault injection, as for `auditor demo`.")] = None,
    realism: RealismOption = None,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", help="Keep the CA, keys and port here (made 0700) across restarts, so a baseline written "
        "for this emulator stays valid. Without it each start makes a new CA and port.",
        show_default=False)] = None,
) -> int:
    """Serve the tenant emulator in the foreground; print its endpoints and a baseline that points at it.
    Ctrl+C or SIGTERM stops it and removes its throwaway keys."""
    from auditor.demo import DEMO_TENANT, running_emulator
    from auditor.emulator.faults import FaultPlan
    from auditor.emulator.realism import Realism
    from auditor.emulator.state import keep_port, open_state

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: must be 1 to 65535 (or 0: any free port)")
    plan = FaultPlan.parse(faults) if faults else None
    Realism().with_spec(realism)
    source = tenant or DEMO_TENANT
    state = open_state(state_dir) if state_dir is not None else None
    with _signals_stop_like_ctrl_c(), running_emulator(
            source, plan, port=port or (state.port if state else 0), certs=state.certs if state else None,
            realism=realism) as server:
        if state is not None:
            keep_port(state, server.port)
        try:
            _print_emulator(server, source)
            typer.echo("# serving; press Ctrl+C to stop", err=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("# stopped", err=True)
    return 0


def _print_emulator(server: EmulatorServer, source: Path) -> None:
    from auditor.demo import baseline_toml
    from auditor.emulator.pwsh_launcher import standin_pwsh
    from auditor.emulator.realism import realism_of

    typer.echo(f"# tenant emulator for {server.tenant.display_name} ({server.tenant.id})")
    typer.echo(f"# Entra authority: {server.authority}")
    typer.echo(f"# Graph:           {server.base_url}/v1.0")
    typer.echo(f"# WSMan/PSRP:      {server.base_url}/wsman")
    typer.echo(f"# CA certificate:  {server.ca_path}")
    typer.echo(f"# pwsh stand-in:   {standin_pwsh(server)} (transport = \"local\": set it as pwsh_path)")
    typer.echo(f"# Exchange realism: {realism_of(server.tenant.doc).describe()} (docs/emulator.md)")
    typer.echo("# Secrets come from the environment, as in a real run: set AUDITOR_CLIENT_SECRET to")
    typer.echo(f"# emulator.clients[0].secret and AUDITOR_PSRP_PASSWORD to emulator.jumpHost.password of {source}")
    typer.echo("# A baseline for it: save as emulator.toml, add your integrations, then run")
    typer.echo("#   auditor audit --baseline emulator.toml")
    typer.echo(baseline_toml(server))


@contextmanager
def _signals_stop_like_ctrl_c() -> Iterator[None]:
    """SIGTERM (systemd, Docker, kill) and SIGHUP (a closed terminal) stop the emulator as Ctrl+C does, so its
    throwaway keys are removed; SIGINT is honoured even when the parent started us with it ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        for sig in wanted:  # once: a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, interrupt) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _warn_before_run(insecure: bool, base: Baseline | None = None) -> None:
    if insecure:
        typer.echo(f"auditor: warning: {INSECURE_WARNING}", err=True)
    if base is None:
        return
    for line in session_warnings(base):  # once per run, before anything connects
        typer.echo(f"auditor: warning: {line}", err=True)


def _finished(run: FinishedRun) -> int:
    for line in run.warnings:
        typer.echo(f"auditor: {line}", err=True)
    typer.echo(run.summary)
    return run.exit_code


def _audit_portfolio(path: Path, options: RunOptions, quiet: bool, verbose: int, shard: Shard) -> int:
    from auditor.portfolio import run_portfolio
    from auditor.reports.portfolio_report import VERDICTS

    Console(quiet, verbose).close()  # logging set up once; per-tenant progress would interleave
    _warn_before_run(not options.verify_tls)
    run = run_portfolio(path, options, shard)
    if shard != WHOLE:
        typer.echo(f"shard {shard}: {len(run.rows)} tenant{'' if len(run.rows) == 1 else 's'} of {path.name}"
                   + ("" if run.rows else " (none falls in this shard: its summary is empty)"))
    for row in run.rows:
        if row.error:
            typer.echo(f"auditor: {row.name}: not audited: {row.error}", err=True)
        else:
            fails, errors = row.by_status.get("FAIL", 0), row.by_status.get("ERROR", 0)
            drift = f", {row.new} new" if row.new is not None else ""
            typer.echo(f"{row.name}: {VERDICTS[row.verdict].lower()}: {fails} FAIL, {errors} ERROR{drift} "
                       f"({options.out / row.folder})")
    for name in run.written:
        typer.echo(f"wrote {name}")
    return run.exit_code
