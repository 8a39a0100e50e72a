"""ExchangeShell over pypsrp 0.9: one runspace pool (one runspace) per shell, connected once, N shells in parallel.

Commands are built only with `add_cmdlet` / `add_parameter` / `add_statement`, never `add_script`. pypsrp
logs whole SOAP bodies at DEBUG (the `-AccessToken` rides in them), so its loggers and those of the libraries
under it are forced to WARNING whenever this module works. Failures become one-line CollectionErrors naming
the cause; transient ones are retried here, because urllib3 never retries a POST on a status code and
pypsrp's `reconnection_retries` does not absorb 429/503 (docs/microsoft-facts.md).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.wsman import WSMan

from auditor.collect import clixml, fragments
from auditor.collect import shell as seam
from auditor.collect.allowlist import ensure_allowed
from auditor.collect.bounds import UNBOUNDED, RunClock, RunStopped, bound_session
from auditor.collect.exo_session import (
    TokenState,
    connect_command,
    exchange_environment,
    reconnect_at,
    run_refreshing,
)
from auditor.collect.psrp_errors import connect_hint, describe_transport_error
from auditor.collect.shell import CmdletErrorInfo, Command, Output, PipelineFailed, ShellPool, ShellStats
from auditor.collect.tls import verification
from auditor.errors import CollectionError, ConfigError
from auditor.models.baseline import Baseline
from auditor.redact import redact

SHELL_NOT_FOUND = 2150858843  # WSMan fault for a runspace pool the server dropped
_WSMAN_BUILD = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PsrpSettings:
    """Where and how to reach the PowerShell host ([exchange] in the baseline; the password from the env)."""

    server: str
    organization: str = ""  # -Organization for Connect-ExchangeOnline (the tenant's domain)
    environment: str = ""  # -ExchangeEnvironmentName; "" leaves the module's default, O365Default
    port: int = 5986
    path: str = "wsman"
    ssl: bool = True
    auth: str = "negotiate"
    encryption: str = "auto"
    username: str = ""
    password: str = field(default="", repr=False)
    cert_validation: str | bool = True  # a CA bundle path, or True for the system store
    operation_timeout_s: float = 60.0
    configuration_name: str = "Microsoft.PowerShell"
    connect: str = "jump-host"  # jump-host | direct
    pools: int = 2
    connection_timeout_s: float = 30.0
    backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0)  # waits before the 2nd, 3rd, 4th attempt of a pipeline
    clock: RunClock = field(default=UNBOUNDED, compare=False, repr=False)  # the run's deadline (bounds.py)

    @classmethod
    def from_baseline(cls, baseline: Baseline, password: str, ca_path: str | None = None,
                      verify_tls: bool = True, clock: RunClock | None = None) -> PsrpSettings:
        ex = baseline.exchange
        return cls(server=ex.server, organization=baseline.tenant.domain, environment=exchange_environment(baseline),
                   port=ex.port, path=ex.path, ssl=ex.ssl,
                   auth=ex.auth, encryption=ex.encryption, username=ex.username, password=password,
                   cert_validation=verification(ca_path or baseline.auth.ca_bundle, verify_tls),
                   operation_timeout_s=ex.operation_timeout_s, configuration_name=ex.configuration_name,
                   connect=ex.connect, pools=ex.pools, clock=clock or UNBOUNDED)

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.server}:{self.port}/{self.path.strip('/')}"


class _CountingWSMan(WSMan):
    """WSMan that counts its round trips (every request goes through `invoke`)."""

    stats = ShellStats()

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        self.stats.round_trips += 1
        return super().invoke(*args, **kwargs)


class PsrpShell:
    """One runspace pool with one runspace on the host, connected once (jump-host: Connect-ExchangeOnline)."""

    def __init__(self, settings: PsrpSettings, exchange_token: Callable[[], str] | None = None) -> None:
        if settings.connect == "jump-host" and (exchange_token is None or not settings.organization):
            raise ConfigError('[exchange] connect = "jump-host" needs an Exchange access token and [tenant] domain')
        self.settings = settings
        self.stats = ShellStats()
        self._token = exchange_token
        self._secrets: list[str] = [settings.password] if settings.password else []
        self._lock = threading.Lock()
        self._wsman: WSMan | None = None
        self._pool: RunspacePool | None = None
        self._token_state = TokenState(enabled=settings.connect == "jump-host")

    def open(self) -> PsrpShell:
        seam.quiet_transport_logs()
        with self._lock:
            self._retrying(self._open_once, "opening a runspace pool")
        return self

    def ensure_wsman(self) -> None:
        """The WSMan connection object. pypsrp registers its XML namespaces (a global ElementTree table) each
        time one is built, which races with another thread serialising a message; PsrpShellPool.open builds
        them one after another before opening the pools in parallel."""
        s = self.settings
        if self._wsman is None:
            with _WSMAN_BUILD:
                try:
                    self._wsman = _CountingWSMan(
                        server=s.server, port=s.port, path=s.path, ssl=s.ssl, auth=s.auth,
                        encryption=s.encryption, username=s.username or None, password=s.password or None,
                        cert_validation=s.cert_validation,  # type: ignore[arg-type]  # a CA path works too
                        connection_timeout=int(s.connection_timeout_s),
                        operation_timeout=int(s.operation_timeout_s), no_proxy=True,
                        read_timeout=int(s.operation_timeout_s) + 15)  # a long-polling Receive answers first
                except ValueError as exc:
                    raise ConfigError(f"[exchange] settings: {exc}") from None
                self._wsman.stats = self.stats
                # every WSMan answer whole within its timeouts, never past the run's deadline, at most 64 MiB
                transport = self._wsman.transport
                transport.session = transport._build_session()
                bound_session(transport.session, s.clock, s.connection_timeout_s + s.operation_timeout_s + 15)

    def _open_once(self) -> None:
        s = self.settings
        self.ensure_wsman()
        self._discard_pool()
        assert self._wsman is not None  # ensure_wsman made it
        pool = RunspacePool(self._wsman, configuration_name=s.configuration_name, min_runspaces=1, max_runspaces=1)
        clixml.install(pool)  # pypsrp's own deserialiser costs ~1 ms per Exchange object (see clixml.py)
        fragments.install(pool)  # and its reassembly copies each Receive's payload once per fragment
        pool.open()
        self._pool = pool
        if s.connect == "jump-host":
            self._connect()

    def _connect(self) -> None:
        assert self._token is not None
        token = self._token()
        self._secrets.append(token)
        connect = connect_command(token, self.settings.organization, self.settings.environment)
        try:
            output = self._invoke([connect])
        except PipelineFailed as exc:
            if _transient(exc):
                raise
            raise CollectionError(f"Connect-ExchangeOnline on {self.settings.server} failed: "
                                  f"{connect_hint(redact(exc.error.message, self._secrets))}") from None
        if output.errors:
            raise CollectionError(f"Connect-ExchangeOnline on {self.settings.server} failed: "
                                  f"{connect_hint(redact(output.errors[0].message, self._secrets))}")
        self._token_state.reconnect_at = reconnect_at(token)

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):  # a dropped pool answers its Delete with a fault
                pool.close()

    def close(self) -> None:
        with self._lock:
            self._discard_pool()
            if self._wsman is not None:
                with contextlib.suppress(Exception):
                    self._wsman.close()
                self._wsman = None

    def run(self, commands: Sequence[Command]) -> Output:
        for command in commands:
            ensure_allowed(command.name)  # again, right before any byte is sent
        if not commands:
            return Output()
        seam.quiet_transport_logs()
        with self._lock:
            if self._pool is None:
                self._retrying(self._open_once, "reopening a runspace pool")
            what = ", ".join(dict.fromkeys(c.name for c in commands))
            output: Output = run_refreshing(self._token_state, self.stats, commands, what,
                                            lambda: self._retrying(lambda: self._invoke(commands), what),
                                            self._reconnect)
            return output

    def _reconnect(self, why: str) -> None:
        """Connect-ExchangeOnline again in the same runspace, with a fresh token (run_refreshing bounds it)."""
        log.info("Exchange session on %s: %s; connecting again with a fresh token", self.settings.server, why)
        self._retrying(self._connect, "reconnecting with a fresh token")

    def _retrying(self, action: Callable[[], Any], what: str) -> Any:
        """Run `action`, retrying transient failures with backoff and reopening a dropped pool once."""
        attempt, reopened = 0, False
        while True:
            try:
                return action()
            except WSManFaultError as exc:
                if exc.code == SHELL_NOT_FOUND and not reopened and self._pool is not None:
                    reopened = True
                    self.stats.pools_reopened += 1
                    log.info("Exchange runspace pool was dropped by %s; reopening it", self.settings.server)
                    self._retrying(self._open_once, "reopening a runspace pool")
                    continue
                raise self._failure(exc, what) from None
            except (CollectionError, WinRMError, OSError) as exc:
                if not _transient(exc) or attempt >= len(self.settings.backoff_s):
                    raise self._failure(exc, what) from None
                try:
                    self.settings.clock.sleep(self.settings.backoff_s[attempt])
                except RunStopped as stopped:
                    raise self._failure(stopped, what) from None
                attempt += 1
                self.stats.retries += 1
            except Exception as exc:  # not WSMan (non-XML, HTML, a refused DTD): an ERROR, not the run
                raise CollectionError(f"{what}: the answer from {self.settings.endpoint} is not a WSMan message "
                                      f"({type(exc).__name__}: {seam.one_line(str(exc))[:120]})") from None

    def _invoke(self, commands: Sequence[Command]) -> Output:
        assert self._pool is not None
        ps = PowerShell(self._pool)
        for index, command in enumerate(commands):
            if index:
                ps.add_statement()
            ps.add_cmdlet(ensure_allowed(command.name))
            for name, value in command.parameters.items():
                ps.add_parameter(name, value)
        self.stats.pipelines += 1
        self.stats.statements += len(commands)
        try:
            with clixml.deferred(self._pool, seam.plain_row):  # parse output while the next Receive travels
                raw = ps.invoke()
            rows = [clixml.resolve(obj, seam.plain_row) for obj in raw]
        except (WinRMError, OSError, CollectionError):
            raise
        except Exception as exc:  # a malformed answer (pypsrp cannot parse it) costs an ERROR, not the run
            names = ", ".join(dict.fromkeys(c.name for c in commands))
            raise CollectionError(f"{names}: the answer from {self.settings.server} could not be read "
                                  f"({type(exc).__name__})") from None
        finally:
            self._pool.pipelines.pop(ps.id, None)  # pypsrp keeps every pipeline (and its output) otherwise
        single = len(commands) == 1
        output = Output(rows=rows,
                        errors=[error_info(e, 0 if single else None) for e in ps.streams.error],
                        warnings=[" ".join(str(w.message or "").split()) for w in ps.streams.warning])
        if ps.state == PSInvocationState.FAILED:
            error = output.errors[-1] if output.errors else CmdletErrorInfo(
                "the pipeline failed without an error record", "", None, 0 if single else None)
            raise PipelineFailed(", ".join(c.name for c in commands), error, output)
        return output

    def _failure(self, exc: BaseException, what: str) -> CollectionError:
        """One line naming the cause; never the token or the password."""
        if isinstance(exc, PipelineFailed):
            return PipelineFailed(what, CmdletErrorInfo(redact(exc.error.message, self._secrets), exc.error.fq_error,
                                                        exc.error.target, exc.error.statement_index), exc.output)
        if isinstance(exc, CollectionError):
            return CollectionError(redact(str(exc), self._secrets))
        return CollectionError(redact(describe_transport_error(exc, self.settings), self._secrets))


def error_info(record: Any, statement_index: int | None) -> CmdletErrorInfo:
    """A pypsrp ErrorRecord as CmdletErrorInfo (str(record) is the exception's message)."""
    target = record.target_object
    return CmdletErrorInfo(message=seam.one_line(str(record)), fq_error=str(record.fq_error or ""),
                           target=None if target is None else str(target), statement_index=statement_index)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, PipelineFailed):
        return exc.error.transient
    if isinstance(exc, AuthenticationError | WSManFaultError | CollectionError):
        return False
    if isinstance(exc, WinRMTransportError):
        return exc.code == 429 or exc.code >= 500
    return not isinstance(exc, requests.exceptions.SSLError) and isinstance(
        exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout | ConnectionError)


class PsrpShellPool(ShellPool):
    """`[exchange] pools` PsrpShells, opened (and connected) in parallel."""

    @classmethod
    def open(cls, settings: PsrpSettings, exchange_token: Callable[[], str] | None = None) -> PsrpShellPool:
        """Open every shell or none: on a failure the opened ones are closed and the first error is raised."""
        seam.quiet_transport_logs()
        shells = [PsrpShell(settings, exchange_token) for _ in range(max(1, settings.pools))]
        for shell in shells:
            shell.ensure_wsman()
        seam.open_all(shells)
        return cls(shells)

    def facts(self) -> dict[str, Any]:
        settings: PsrpSettings | None = getattr(self.shells[0], "settings", None)
        return {"transport": "psrp", "endpoint": settings.endpoint if settings else "", **super().facts()}


def open_psrp_pool(baseline: Baseline, password: str | None, exchange_token: Callable[[], str] | None,
                   ca_path: str | None = None, verify_tls: bool = True, clock: RunClock | None = None
                   ) -> PsrpShellPool:
    """The pool `auditor collect`/`demo` use: settings from [exchange] and [tenant], password from the env.
    `verify_tls` is False only with --insecure-skip-tls-verify."""
    return PsrpShellPool.open(PsrpSettings.from_baseline(baseline, password or "", ca_path, verify_tls, clock),
                              exchange_token)
