"""Facts about an Exchange Online session the shells rely on (docs/microsoft-facts.md, "Exchange Online session").

- Which cloud: `Connect-ExchangeOnline -ExchangeEnvironmentName` (documented values) from `[exchange]
  environment_name`, else from the host of `[auth] exchange_resource`.
- Which organization: `-Organization` is the primary .onmicrosoft.com domain or the tenant ID.
- When a token runs out, and how an expired token or a missing Exchange role shows in an answer (undocumented:
  every plausible form is recognised).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from auditor.collect.shell import CmdletErrorInfo, Command, Output, PipelineFailed, ShellStats
from auditor.models.baseline import Baseline

# The documented ConnectionUri hosts of each cloud, plus the Exchange resource the DoD cloud's tokens are issued
# for (outlook-dod.office365.us, as community scripts request them).
ENVIRONMENT_BY_HOST = {
    "outlook.office365.us": "O365USGovGCCHigh",
    "webmail.apps.mil": "O365USGovDoD",
    "outlook-dod.office365.us": "O365USGovDoD",
    "partner.outlook.cn": "O365China",
    "outlook.office.de": "O365GermanyCloud",
}
# The initial (primary) domain suffix of a tenant per cloud: the doc names .onmicrosoft.com; GCC High / DoD and
# 21Vianet tenants get .onmicrosoft.us and .partner.onmschina.cn initial domains.
INITIAL_DOMAIN_SUFFIXES = (".onmicrosoft.com", ".onmicrosoft.us", ".partner.onmschina.cn")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_RECONNECTS = 3  # per runspace pool per run: a run of up to about four token lifetimes (4 h or more)
EXPIRED_WORDS = ("expired", "unauthorized", "access is denied", "invalid_token", "(401)", "httpstatuscode=401")


def exchange_environment(baseline: Baseline) -> str:
    """The -ExchangeEnvironmentName to send, or "" to leave the module's default (O365Default)."""
    if baseline.exchange.environment_name:
        return str(baseline.exchange.environment_name)
    host = (urlsplit(baseline.auth.exchange_resource).hostname or "").lower()
    return ENVIRONMENT_BY_HOST.get(host, "")


def organization_note(domain: str) -> str | None:
    """Why `[tenant] domain` may not be a valid -Organization, or None when it is."""
    value = domain.strip().lower()
    if not value or GUID.match(value) or value.endswith(INITIAL_DOMAIN_SUFFIXES):
        return None
    return (f"[tenant] domain {domain!r} is not the tenant's primary .onmicrosoft.com domain (or its tenant ID), "
            "which is what Connect-ExchangeOnline -Organization expects; if the connection fails, set it to the "
            "*.onmicrosoft.com domain")


def reconnect_at(token: str) -> float | None:
    """When to reconnect with a fresh token (epoch seconds): a little before the JWT's `exp`; None when the token
    is not a readable JWT. Access tokens are opaque to clients, so this only decides when to reconnect early; an
    expired-token answer is the backstop."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        iat = claims.get("iat") if isinstance(claims, dict) else None
    except (IndexError, ValueError, TypeError):
        return None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    lifetime = exp - iat if isinstance(iat, int | float) and not isinstance(iat, bool) and iat < exp else 3600
    return float(exp) - min(120.0, lifetime / 4)  # reconnect this much before the token runs out


def due(moment: float | None) -> bool:
    return moment is not None and time.time() >= moment


def expired_answer(error: CmdletErrorInfo, reconnect_moment: float | None, worked: Collection[str]) -> bool:
    """An answer that can mean "the session's token has expired" (undocumented: every form reported): an
    expired/UnAuthorized/access-denied/401 wording, or CommandNotFound for a cmdlet that answered before in this
    session (`worked`) or once the token's time is up."""
    if error.command_not_found:
        return due(reconnect_moment) or str(error.target or "") in worked
    text = f"{error.message} {error.fq_error}".lower()
    return any(word in text for word in EXPIRED_WORDS)


def budget_spent(error: CmdletErrorInfo, budget: int = MAX_RECONNECTS) -> CmdletErrorInfo:
    """The expired answer once a pool may not reconnect again: said as such (never read as a missing role)."""
    return CmdletErrorInfo(f"the session's access token expired and the pool's reconnects for this run are spent "
                           f"({budget}): {error.message}", "TokenExpired", error.target, error.statement_index)


def connect_command(token: str, organization: str, environment: str) -> Command:
    """Connect-ExchangeOnline with an app-only token; -ExchangeEnvironmentName only where the cloud needs it
    (GCC High, DoD, 21Vianet: docs/microsoft-facts.md). The same for a jump host and a local pwsh."""
    parameters: dict[str, Any] = {"AccessToken": token, "Organization": organization}
    if environment:
        parameters["ExchangeEnvironmentName"] = environment
    return Command("Connect-ExchangeOnline", {**parameters, "ShowBanner": False})


@dataclass
class TokenState:
    """The token side of a session that connected with Connect-ExchangeOnline -AccessToken (a jump host's
    runspace, a local pwsh child): when the token is about to run out, and which cmdlets answered in it."""

    enabled: bool  # False: the endpoint serves Exchange cmdlets itself (connect = "direct"), no token to renew
    reconnect_at: float | None = None
    worked: set[str] = field(default_factory=set)  # an expired session "loses" these: CommandNotFound = expiry


def run_refreshing(state: TokenState, stats: ShellStats, commands: Sequence[Command], what: str,
                   attempt: Callable[[], Output], reconnect: Callable[[str], None], connected: bool = True) -> Output:
    """Run a pipeline (`attempt`) in a session whose token may expire: connect again (`reconnect`) before it does
    (when `connected`), or once the pipeline answers as for an expired token, then run it again; at most
    MAX_RECONNECTS times per session, after which the expiry is the pipeline's error, never a missing role."""
    def may_reconnect() -> bool:
        return state.enabled and stats.reconnects < MAX_RECONNECTS

    def again(why: str) -> None:
        stats.reconnects += 1
        reconnect(why)

    if connected and may_reconnect() and due(state.reconnect_at):
        again("its token is about to expire")
    try:
        output = attempt()
    except PipelineFailed as exc:
        if not state.enabled or not expired_answer(exc.error, state.reconnect_at, state.worked):
            raise
        if not may_reconnect():
            raise PipelineFailed(what, budget_spent(exc.error, MAX_RECONNECTS), exc.output) from None
        again(f"{what} answered as for an expired token")
        output = attempt()
    state.worked.update(c.name for c in commands)
    return output
