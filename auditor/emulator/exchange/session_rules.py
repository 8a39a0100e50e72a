"""What an Exchange session allows its caller, beyond the cmdlets themselves: the token's lifetime and the
caller's Exchange roles (docs/microsoft-facts.md, "Exchange Online session"; settings in docs/emulator.md).

- Once the token given to Connect-ExchangeOnline has expired, every cmdlet in that session fails. How it fails is
  undocumented; `emulator.expiredToken` picks the form: "unauthorized" (a terminating UnauthorizedAccessException
  naming the expired token, the default) or "commandNotFound" (the session's cmdlets are gone, as reported for
  the module's expired sessions).
- A cmdlet outside the caller's Exchange roles is not in its session at all: CommandNotFound, as Exchange
  answers it. `emulator.clients[].deniedCmdlets` names those cmdlets per app (default: none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.emulator.exchange.model import UNAUTHORIZED, CmdletError, ErrorInfo, command_not_found

EXPIRED_MESSAGE = "The access token has expired. Connect-ExchangeOnline again with a new token. (UnAuthorized)"


@dataclass(frozen=True)
class SessionRules:
    expired_form: str = "unauthorized"
    denied: Mapping[str, frozenset[str]] = field(default_factory=dict)  # app id -> cmdlet names, lower-cased

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> SessionRules:
        emulator = doc.get("emulator") or {}
        denied = {str(c["appId"]).lower(): frozenset(str(n).lower() for n in c.get("deniedCmdlets") or ())
                  for c in emulator.get("clients") or () if c.get("deniedCmdlets")}
        return cls(str(emulator.get("expiredToken") or "unauthorized"), denied)

    def denies(self, app_id: str, cmdlet: str) -> bool:
        return cmdlet.lower() in self.denied.get(app_id.lower(), frozenset())

    def check(self, app_id: str, expires: datetime, cmdlet: str, now: datetime | None = None) -> None:
        """Raise the error Exchange gives this caller for `cmdlet` now, if any (tokens expire in wall time)."""
        if (now or datetime.now(UTC)) >= expires:
            raise CmdletError(expired(cmdlet) if self.expired_form == "unauthorized" else command_not_found(cmdlet))
        if self.denies(app_id, cmdlet):
            raise CmdletError(command_not_found(cmdlet))


def expired(cmdlet: str) -> ErrorInfo:
    return ErrorInfo(UNAUTHORIZED, EXPIRED_MESSAGE, f"UnAuthorized,{cmdlet}", "AuthenticationError", cmdlet)


def record_call(parameters: Sequence[tuple[str | None, Any]]) -> dict[str, Any]:
    """A Connect-ExchangeOnline call as tests read it back: parameter names and values, the token hidden."""
    return {str(name).lstrip("-"): ("<token>" if str(name).lstrip("-").lower() == "accesstoken" else value)
            for name, value in parameters if name is not None}
