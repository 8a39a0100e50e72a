"""`[exchange] pools` local pwsh children, and the check `preflight` shares: is PowerShell 7 with the module here?"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditor.collect import shell as seam
from auditor.collect.bounds import UNBOUNDED, RunClock
from auditor.collect.exo_session import exchange_environment
from auditor.collect.local_pwsh import LocalSettings, LocalSetupError, LocalShell, find_pwsh
from auditor.collect.shell import ShellPool
from auditor.errors import CollectionError
from auditor.models.baseline import Baseline


def local_settings(baseline: Baseline, clock: RunClock | None = None) -> LocalSettings:
    ex = baseline.exchange
    hidden = (baseline.auth.certificate_password_env,) if baseline.auth.certificate_password_env else ()
    return LocalSettings(pwsh_path=ex.pwsh_path, organization=baseline.tenant.domain,
                         environment=exchange_environment(baseline), pools=ex.pools,
                         operation_timeout_s=ex.operation_timeout_s, hidden_environment=hidden,
                         clock=clock or UNBOUNDED)


class LocalShellPool(ShellPool):
    """Local pwsh shells, started (and connected) in parallel; closing the pool ends every child."""

    @classmethod
    def open(cls, settings: LocalSettings, exchange_token: Callable[[], str]) -> LocalShellPool:
        """Open every shell or none: on a failure the opened ones are closed and the first error is raised."""
        seam.quiet_transport_logs()
        find_pwsh(settings.pwsh_path)  # one clear line before any child starts
        shells = [LocalShell(settings, exchange_token) for _ in range(max(1, settings.pools))]
        seam.open_all(shells, preferred=LocalSetupError)  # a missing module says what to install, first
        return cls(shells)

    def facts(self) -> dict[str, Any]:
        first = self.shells[0]
        settings: LocalSettings | None = getattr(first, "settings", None)
        return {"transport": "local", "pwsh_path": settings.pwsh_path if settings else "",
                "powershell_version": getattr(first, "powershell_version", ""),
                "module_version": getattr(first, "module_version", ""), **super().facts()}


def open_local_pool(baseline: Baseline, exchange_token: Callable[[], str], clock: RunClock | None = None
                    ) -> LocalShellPool:
    return LocalShellPool.open(local_settings(baseline, clock), exchange_token)


@dataclass(frozen=True)
class PwshCheck:
    """What `check_local_powershell` found: `ok`, and one line (the versions found, or what to install)."""

    ok: bool
    message: str
    executable: str | None = None
    powershell_version: str | None = None
    module_version: str | None = None


def check_local_powershell(settings: LocalSettings) -> PwshCheck:
    """Start pwsh once, check its version and import the module (no sign-in); never raises for what it finds."""
    try:
        exe = find_pwsh(settings.pwsh_path)
    except LocalSetupError as exc:
        return PwshCheck(False, str(exc))
    shell = LocalShell(settings, None)
    try:
        shell.open()
    except CollectionError as exc:
        return PwshCheck(False, seam.one_line(str(exc)), exe, shell.powershell_version or None)
    finally:
        shell.close()
    return PwshCheck(True, f"{exe}: PowerShell {shell.powershell_version}, ExchangeOnlineManagement "
                           f"{shell.module_version}", exe, shell.powershell_version, shell.module_version)
