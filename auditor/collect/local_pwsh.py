"""ExchangeShell over a local PowerShell 7 (`[exchange] transport = "local"`): one `pwsh -s` child per shell.

Each shell starts `pwsh -NoLogo -NoProfile -s`, opens a runspace pool in it with psrpcore's client classes over
the out-of-process framing (`outofproc`), checks the PowerShell version the pool reports, then runs
`Import-Module ExchangeOnlineManagement -MinimumVersion …` and `Connect-ExchangeOnline -AccessToken …
-Organization …` as commands with parameters, and after that only allowlisted cmdlets. The token travels only
inside the PSRP stream: never on the command line, in the child's environment (the auditor's own secrets are
removed from it too) or in a log. See docs/microsoft-facts.md, "PowerShell out-of-process transport".
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psrpcore import ClientPowerShell, ClientRunspacePool, PSRPPayload, StreamType
from psrpcore.types import PSInvocationState, RunspacePoolState

from auditor.collect import shell as seam
from auditor.collect.allowlist import ensure_allowed
from auditor.collect.bounds import UNBOUNDED, RunClock
from auditor.collect.exo_session import TokenState, connect_command, reconnect_at, run_refreshing
from auditor.collect.local_values import OutputPool, error_info, pipeline_events, powershell_version
from auditor.collect.outofproc import FRAGMENT_SIZE, POOL, Channel, ChannelError
from auditor.collect.psrp import redact
from auditor.collect.psrp_errors import connect_hint
from auditor.collect.shell import CmdletErrorInfo, Command, Output, PipelineFailed, ShellStats
from auditor.errors import CollectionError

MODULE = "ExchangeOnlineManagement"
MIN_MODULE = "3.1.0"  # Connect-ExchangeOnline -AccessToken needs 3.1.0 or later
MIN_POWERSHELL = (7, 2)  # the oldest PowerShell ExchangeOnlineManagement 3.x supports
INSTALL_PWSH = ("install PowerShell 7.2 or later (https://aka.ms/install-powershell), or set [exchange] pwsh_path "
                "to its pwsh")
INSTALL_MODULE = (f"in pwsh run: Install-Module {MODULE} -MinimumVersion {MIN_MODULE} -Scope CurrentUser")
# The auditor's own secrets stay out of the child's environment (the token never is in it).
SECRET_ENVIRONMENT = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD")
_TERMINAL = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


log = logging.getLogger("auditor.collect.local")


class LocalSetupError(CollectionError):
    """pwsh is missing or too old, or the module is missing or too old: one line saying what to install."""


@dataclass(frozen=True)
class LocalSettings:
    pwsh_path: str = "pwsh"
    organization: str = ""  # -Organization for Connect-ExchangeOnline (the tenant's domain)
    environment: str = ""  # -ExchangeEnvironmentName; "" leaves the module's default, O365Default
    pools: int = 2
    operation_timeout_s: float = 60.0  # any wait for the child (start-up, an ack, the next output)
    backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0)
    hidden_environment: tuple[str, ...] = ()  # further variables to keep from the child (a certificate password)
    clock: RunClock = field(default=UNBOUNDED, compare=False, repr=False)  # the run's deadline (bounds.py)


def find_pwsh(path: str) -> str:
    """The executable `path` names (a bare name is looked up on PATH), or LocalSetupError."""
    found = shutil.which(path)
    if found is None:
        where = "on PATH" if os.sep not in path and "/" not in path else "or is not executable"
        raise LocalSetupError(f"PowerShell 7 ({path}) was not found {where}: {INSTALL_PWSH}")
    return found


def child_environment(hidden: Sequence[str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith("AUDITOR_") and k.upper() not in SECRET_ENVIRONMENT and k not in hidden}
    env["POWERSHELL_TELEMETRY_OPTOUT"] = "1"  # server mode sends start-up telemetry otherwise
    return env


class LocalShell:
    """One pwsh child with one runspace pool of one runspace, connected once."""

    def __init__(self, settings: LocalSettings, exchange_token: Callable[[], str] | None = None) -> None:
        self.settings = settings
        self.stats = ShellStats()
        self.powershell_version = ""
        self.module_version = ""
        self._token = exchange_token
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        self._channel: Channel | None = None
        self._pool: ClientRunspacePool | None = None
        self._opened_once = False
        self._token_state = TokenState(enabled=exchange_token is not None)

    @property
    def pid(self) -> int | None:
        return None if self._channel is None else self._channel.pid

    def open(self) -> LocalShell:
        with self._lock:
            self._open()
        return self

    def _open(self) -> None:
        seam.quiet_transport_logs()  # psrpcore logs every message it builds at DEBUG, the token's too
        if self._opened_once:
            self.stats.pools_reopened += 1
        self._opened_once = True
        self._token_state = TokenState(enabled=self._token is not None)  # a new child is a new session
        exe = find_pwsh(self.settings.pwsh_path)
        self._end()
        channel = Channel([exe, "-NoLogo", "-NoProfile", "-s"], self.settings.operation_timeout_s, "pwsh",
                          child_environment(self.settings.hidden_environment), counter=self.stats,
                          clock=self.settings.clock)
        self._channel = channel
        pool = OutputPool()
        self._pool = pool
        try:
            pool.open()
            self._flush()
            while pool.state != RunspacePoolState.Opened:
                self._receive("opening a runspace pool")
                if pool.state in (RunspacePoolState.Broken, RunspacePoolState.Closed):
                    raise ChannelError(f"pwsh refused the runspace pool ({pool.state.name})")
            self._check_version(exe, pool)
            self._import_module(exe)
            if self._token is not None:
                self._connect()
        except BaseException:
            self._end()
            raise

    def _check_version(self, exe: str, pool: ClientRunspacePool) -> None:
        version = powershell_version(pool.application_private_data)
        self.powershell_version = ".".join(map(str, version)) if version else "unknown"
        if version is None or version[:2] < MIN_POWERSHELL:
            raise LocalSetupError(f"{exe} is PowerShell {self.powershell_version}; the Exchange module needs "
                                  f"7.2 or later: {INSTALL_PWSH}")

    def _import_module(self, exe: str) -> None:
        command = Command("Import-Module", {"Name": MODULE, "MinimumVersion": MIN_MODULE, "PassThru": True})
        try:
            output = self._invoke([command])
        except PipelineFailed as exc:
            output = exc.output
            output.errors.append(exc.error)
        loaded = [row for row in output.rows if str(row.get("Name", "")).lower() == MODULE.lower()]
        if output.errors or not loaded:
            why = output.errors[0].message if output.errors else "Import-Module returned nothing"
            raise LocalSetupError(f"{MODULE} {MIN_MODULE} or later is not available to {exe} ({why}): "
                                  f"{INSTALL_MODULE}")
        self.module_version = str(loaded[-1].get("Version", ""))

    def _connect(self) -> None:
        assert self._token is not None
        token = self._token()
        self._secrets.append(token)
        connect = connect_command(token, self.settings.organization, self.settings.environment)
        try:
            output = self._invoke([connect])
        except PipelineFailed as exc:
            output = exc.output
            output.errors.append(exc.error)
        if output.errors:
            message = redact(output.errors[0].message, self._secrets)
            raise CollectionError(f"Connect-ExchangeOnline in local pwsh failed: {connect_hint(message)}")
        self._token_state.reconnect_at = reconnect_at(token)

    # -- running ------------------------------------------------------------------------------------------

    def run(self, commands: Sequence[Command]) -> Output:
        for command in commands:
            ensure_allowed(command.name)  # again, right before any byte is sent
        if not commands:
            return Output()
        with self._lock:
            what = ", ".join(dict.fromkeys(c.name for c in commands))
            # A long run outlives its token: connect again in the same child, as over the jump host.
            return run_refreshing(self._token_state, self.stats, commands, what,
                                  lambda: self._run_retrying(commands, what), self._reconnect,
                                  connected=self._channel is not None)

    def _reconnect(self, why: str) -> None:
        log.info("local pwsh: %s; connecting again with a fresh token", why)
        self._connect()

    def _run_retrying(self, commands: Sequence[Command], what: str) -> Output:
        """One pipeline, retried on a transient answer; a child that ended is replaced first."""
        attempt = 0
        while True:
            try:
                if self._channel is None:
                    self._open()  # the child ended after an earlier failure: a new one for this pipeline
                return self._invoke(commands)
            except PipelineFailed as exc:
                if not exc.error.transient or attempt >= len(self.settings.backoff_s):
                    raise PipelineFailed(what, CmdletErrorInfo(
                        redact(exc.error.message, self._secrets), exc.error.fq_error, exc.error.target,
                        exc.error.statement_index), exc.output) from None
                time.sleep(self.settings.backoff_s[attempt])
                attempt += 1
                self.stats.retries += 1
            except ChannelError as exc:
                self._end()  # never retried here: a cmdlet that breaks pwsh would break the next one too
                raise CollectionError(f"{what}: {redact(str(exc), self._secrets)}") from None

    def _invoke(self, commands: Sequence[Command]) -> Output:
        assert self._channel is not None and self._pool is not None
        ps = ClientPowerShell(self._pool)
        for index, command in enumerate(commands):
            if index:
                ps.add_statement()
            ps.add_command(ensure_allowed(command.name))
            for name, value in command.parameters.items():
                # PowerShell's own AddParameter(name) sends a switch as True; None would bind as $false.
                ps.add_parameter(name, True if value is None else value)
        self.stats.pipelines += 1
        self.stats.statements += len(commands)
        self._channel.command(ps.pipeline_id)  # CommandAck before the pipeline's first Data
        ps.start()
        self._flush()
        single = len(commands) == 1
        output, reason = Output(), None
        while ps.state not in _TERMINAL:
            for kind, value in pipeline_events(self._receive("running " + commands[0].name), ps.pipeline_id):
                if kind == "output":
                    output.rows.append(value)
                elif kind == "error":
                    output.errors.append(error_info(value, 0 if single else None))
                elif kind == "warning":
                    output.warnings.append(value)
                elif kind == "state":
                    reason = value
        ps.close()
        self._channel.close(ps.pipeline_id)
        if ps.state != PSInvocationState.Completed:
            error = error_info(reason, 0 if single else None) if reason is not None else CmdletErrorInfo(
                f"the pipeline ended {ps.state.name}", "", None, 0 if single else None)
            raise PipelineFailed(", ".join(c.name for c in commands), error, output)
        return output

    def _flush(self) -> None:
        assert self._channel is not None and self._pool is not None
        while (payload := self._pool.data_to_send(FRAGMENT_SIZE)) is not None:
            stream = "PromptResponse" if payload.stream_type == StreamType.prompt_response else "Default"
            self._channel.send_data(payload.pipeline_id or POOL, payload.data, stream)

    def _receive(self, what: str) -> list[Any]:
        """Feed the next Data packet to psrpcore; the events it completes."""
        assert self._channel is not None and self._pool is not None
        packet = self._channel.next_data(what)
        pid = None if packet.target == POOL else packet.target
        try:
            self._pool.receive_data(PSRPPayload(packet.data, StreamType.default, pid))
            events = []
            while (event := self._pool.next_event()) is not None:
                events.append(event)
        except Exception as exc:  # psrpcore could not read what pwsh sent
            self._channel.kill()
            raise ChannelError(f"pwsh sent a PowerShell remoting message that cannot be read "
                               f"({type(exc).__name__})") from None
        self._flush()  # a key request or host call answer, if psrpcore queued one
        return events

    # -- ending -------------------------------------------------------------------------------------------

    def _end(self) -> None:
        channel, self._channel, self._pool = self._channel, None, None
        if channel is None:
            return
        if channel.failure is None:
            try:
                channel.timeout_s = min(channel.timeout_s, 5.0)
                channel.close(POOL)  # RunspacePoolState Closed, then CloseAck
            except ChannelError:
                pass
        channel.end()

    def close(self) -> None:
        with self._lock:
            self._end()
