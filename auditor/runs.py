"""One audit run, however it is started: `audit`, `collect`, `demo`, or one tenant of a portfolio.

The commands parse options and print; everything between (the settings a live run needs, its secrets, the
history it compares with, the snapshot and reports it leaves, its exit code) is decided here, once, so the ways
of starting a run cannot drift apart. Nothing here prints: lines for the user come back as data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.collect.auth import credentials_from_environment
from auditor.collect.run import CollectionSettings, collect
from auditor.console import Console
from auditor.errors import ConfigError
from auditor.models.baseline import Baseline, ExchangeAuth, ExchangeConnect, ExchangeTransport
from auditor.models.findings import Severity
from auditor.models.snapshot import SectionStatus, Snapshot
from auditor.pipeline import RunResult, evaluate_and_report
from auditor.redact import register

if TYPE_CHECKING:
    from auditor.history.store import HistoryStore

REPORT_FORMATS = ("json", "csv", "html", "junit")
PSRP_PASSWORD_ENV = "AUDITOR_PSRP_PASSWORD"
INSECURE_WARNING = "TLS verification is disabled (--insecure-skip-tls-verify)"


@dataclass(frozen=True)
class RunOptions:
    """What the user asked of a run, whichever command started it."""

    out: Path
    formats: tuple[str, ...] = REPORT_FORMATS
    fail_on: Severity = Severity.LOW
    history: Path | None = None
    """--history PATH; None: the baseline's [history] path or the default location."""
    no_history: bool = False
    fail_on_new: bool = False
    keep_snapshot: bool = False
    """--history-snapshot: the raw snapshot goes into the history too."""
    verify_tls: bool = True
    """False only with --insecure-skip-tls-verify."""


# -- before collection -----------------------------------------------------------------------------------------


def require_live_settings(base: Baseline) -> None:
    """The baseline keys a run against a real tenant cannot do without, all named in one error."""
    missing = [key for key, value in (("tenant.id", base.tenant.id), ("auth.client_id", base.auth.client_id))
               if not value]
    psrp = base.exchange.transport is ExchangeTransport.PSRP
    if psrp and not base.exchange.server:
        missing.append("exchange.server")
    local = base.exchange.transport is ExchangeTransport.LOCAL  # Connect-ExchangeOnline -Organization <domain>
    if (local or (psrp and base.exchange.connect is ExchangeConnect.JUMP_HOST)) and not base.tenant.domain:
        missing.append("tenant.domain")
    if missing:
        raise ConfigError(f"{base.source}: {', '.join(missing)}: required for a live run")
    from auditor.collect.tls import check_ca_bundle

    check_ca_bundle(base.auth.ca_bundle)


def psrp_password(base: Baseline, environ: Mapping[str, str] | None = None,
                  variable: str = PSRP_PASSWORD_ENV) -> str | None:
    """The jump host account's password, from the environment; only PSRP with a password-based auth needs one
    (basic must have it; negotiate and friends may fall back to the host's own credentials)."""
    if base.exchange.transport is not ExchangeTransport.PSRP or base.exchange.auth is ExchangeAuth.CERTIFICATE:
        return None
    password = (os.environ if environ is None else environ).get(variable)
    if not password and base.exchange.auth is ExchangeAuth.BASIC:
        raise ConfigError(f"no password for the jump host account: set {variable}")
    return password


def live_settings(base: Baseline, options: RunOptions, environ: Mapping[str, str] | None = None,
                  password_variable: str = PSRP_PASSWORD_ENV) -> CollectionSettings:
    """Settings and secrets for a run against a real tenant; a missing key or secret is a ConfigError now,
    before anything is collected."""
    require_live_settings(base)
    env = dict(os.environ if environ is None else environ)
    credentials = credentials_from_environment(base.auth, base.source, env)
    password = psrp_password(base, env, password_variable)
    return CollectionSettings(credentials=credentials, psrp_password=password, verify_tls=options.verify_tls)


def open_history(options: RunOptions, baseline: Baseline, on_by_default: bool = True) -> HistoryStore | None:
    """The store a run compares with and records into, opened now so a bad path fails before collection.

    `audit` keeps history by default; `demo` only when asked (--history or the baseline's [history] path), so
    trying the demo never mixes its made-up tenant into a real history."""
    from auditor.history.store import HistoryStore
    from auditor.history.tracking import history_path

    if options.no_history and options.history is not None:
        raise ConfigError("--history and --no-history: choose one")
    wanted = not options.no_history and (on_by_default or options.history is not None or bool(baseline.history.path))
    if not wanted:
        if options.fail_on_new:
            raise ConfigError("--fail-on-new compares with the last run, so it needs history"
                              + (" (drop --no-history)" if options.no_history else " (give --history PATH)"))
        return None
    store = HistoryStore(history_path(options.history, baseline))
    store.ensure()
    return store


# -- collection ------------------------------------------------------------------------------------------------


def collect_run(base: Baseline, settings: CollectionSettings, console: Console | None = None) -> Snapshot:
    """Sign in and read the tenant. The run's secrets are registered first, so no log line can carry them."""
    from auditor.collect.exchange_reader import read_exchange

    register(*settings.credentials.secrets(), settings.psrp_password)
    if console is not None:
        settings.progress, settings.done = console.step, console.done
    return collect(base, settings, read_exchange)


def session_warnings(base: Baseline) -> list[str]:
    """Doubts about the Exchange session worth a line before the run: a [tenant] domain that
    Connect-ExchangeOnline -Organization may refuse (docs/microsoft-facts.md, "Exchange Online session")."""
    from auditor.collect.exo_session import organization_note

    if base.exchange.transport != "psrp" or base.exchange.connect != "jump-host":
        return []
    note = organization_note(base.tenant.domain)
    return [] if note is None else [note]


def recorded_profile(path: Path | None, base: Baseline) -> dict[str, object] | None:
    """The run facts of a recorded `auditor preflight` (--preflight FILE, else preflight.json beside the
    baseline when there is one): which undocumented Exchange forms the tenant was seen to serve. It names them in
    the report; no verdict depends on them (the readers take every form). A bad file is a ConfigError."""
    from auditor.preflight.model import read_profile

    if path is None:
        beside = Path(base.source).parent / "preflight.json"
        if not beside.is_file():
            return None
        path = beside
    profile = read_profile(path)
    if profile.tenant_id and base.tenant.id and profile.tenant_id.lower() != base.tenant.id.lower():
        raise ConfigError(f"--preflight {path}: recorded for tenant {profile.tenant_id}, not this baseline's "
                          f"{base.tenant.id}")
    return {"observed_profile": profile.describe(), "preflight": profile.fact()}


def write_snapshot(snapshot: Snapshot, path: Path) -> None:
    from auditor.reports.files import write_atomic

    write_atomic(path, snapshot.to_json())


def snapshot_problems(snapshot: Snapshot) -> list[str]:
    """One line per distinct collection failure, for stderr."""
    seen: dict[str, list[str]] = {}
    for name, section in sorted(snapshot.sections.items()):
        if section.status is SectionStatus.ERROR:
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


# -- after collection ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinishedRun:
    result: RunResult
    exit_code: int
    warnings: tuple[str, ...]
    """Lines for stderr: collection failures, drift since the last run, waivers to look at."""

    @property
    def summary(self) -> str:
        return self.result.summary_line()


def finish_run(snapshot: Snapshot, base: Baseline, folder: Path, options: RunOptions,
               store: HistoryStore | None, console: Console | None = None) -> FinishedRun:
    """Write the snapshot, evaluate, write the reports, compare with and record into the history."""
    if console is not None:
        console.step("evaluating and writing reports")
    write_snapshot(snapshot, folder / "snapshot.json")
    result = evaluate_and_report(snapshot, base, folder, options.formats, store, options.keep_snapshot,
                                 options.fail_on)
    if console is not None:
        console.close()
    warnings = snapshot_problems(snapshot) + result.notes()  # notes() says when the run was not recorded
    return FinishedRun(result=result, exit_code=result.exit_code(options.fail_on, only_new=options.fail_on_new),
                       warnings=tuple(warnings))
