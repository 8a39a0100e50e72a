"""`Connect-ExchangeOnline -AccessToken -Organization [-ExchangeEnvironmentName]` on an emulated jump host:
the parameter values Exchange documents and the token checks it makes (docs/microsoft-facts.md, "Exchange Online
session")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.emulator.clouds import ENVIRONMENT_AUDIENCES, EXCHANGE_APP_ID
from auditor.emulator.exchange.binding import bind
from auditor.emulator.exchange.model import PARAMETER_BINDING, UNAUTHORIZED, CmdletError, ErrorInfo
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenIssuer

CONNECT = "Connect-ExchangeOnline"
DISCONNECT = "Disconnect-ExchangeOnline"
MANAGE_AS_APP = "Exchange.ManageAsApp"
EXCHANGE_AUDIENCES = frozenset({a for audiences in ENVIRONMENT_AUDIENCES.values() for a in audiences}
                               | {EXCHANGE_APP_ID})
CONNECT_PARAMS = (
    "AccessToken",
    "Organization",
    "ExchangeEnvironmentName",
    "ShowBanner",
    "AppId",
    "SkipLoadingFormatData",
    "ShowProgress",
    "CommandName",
)
_TASK = "Microsoft.Exchange.Management.ExoPowershellSnapin.ConnectExchangeOnline"


@dataclass(frozen=True)
class Connection:
    """What a successful Connect-ExchangeOnline leaves in a runspace: who connected and until when."""

    app_id: str
    expires: datetime
    environment: str


def _refused(reason: str, message: str) -> CmdletError:
    return CmdletError(ErrorInfo(UNAUTHORIZED, message, f"{reason},{_TASK}", "AuthenticationError", CONNECT))


def environment(value: Any) -> str:
    """The ExchangeEnvironment enum value, bound as PowerShell binds an enum (case-insensitive), or the
    ParameterBindingException it raises for a name outside the enum."""
    text = str(value)
    found = next((name for name in ENVIRONMENT_AUDIENCES if name.lower() == text.strip().lower()), None)
    if found is None:
        names = ", ".join(ENVIRONMENT_AUDIENCES)
        raise CmdletError(ErrorInfo(
            PARAMETER_BINDING,
            f"Cannot bind parameter 'ExchangeEnvironmentName'. Cannot convert value \"{text}\" to type "
            f"\"ExchangeEnvironment\". Error: \"Unable to match the identifier name {text} to a valid enumerator "
            f"name. Specify one of the following enumerator names and try again: {names}\"",
            f"ParameterArgumentTransformationError,{CONNECT}", "InvalidData", CONNECT, text))
    return found


def connect(tenant: Tenant, tokens: TokenIssuer, parameters: Sequence[tuple[str | None, Any]]) -> Connection:
    """Check a Connect-ExchangeOnline call; returns the connection on success, raises CmdletError otherwise."""
    bound = bind(CONNECT, CONNECT_PARAMS, parameters, ("AccessToken", "Organization"))
    cloud = environment(bound.get("ExchangeEnvironmentName", "O365Default"))
    token = str(bound["AccessToken"])
    organization = str(bound["Organization"])
    claims = tokens.verify(token)
    if claims is None:
        raise _refused("UnAuthorized", "The access token is invalid or has expired. (UnAuthorized)")
    audience = claims.audience.rstrip("/").lower()
    expected = ENVIRONMENT_AUDIENCES[cloud]
    if audience not in expected and not (cloud == "O365Default" and audience == EXCHANGE_APP_ID):
        raise _refused(
            "UnAuthorized",
            f"The access token is invalid: wrong audience '{claims.audience}' "
            f"(expected '{sorted(expected)[0]}'" + ("" if cloud == "O365Default" else f" for {cloud}") + ").",
        )
    if claims.tenant_id.lower() != tenant.id.lower():
        raise _refused(
            "UnAuthorized",
            f"The access token was issued for tenant '{claims.tenant_id}', not for organization '{organization}'.",
        )
    # The documented values: the primary .onmicrosoft.com domain or the tenant ID.
    if organization.lower() not in (tenant.default_domain.lower(), tenant.id.lower()):
        raise _refused(
            "OrganizationNotFound",
            f"The organization '{organization}' does not match the tenant of the access token "
            f"('{tenant.default_domain}').",
        )
    if MANAGE_AS_APP not in claims.roles:
        raise _refused(
            "UnAuthorized",
            f"The role assigned to application {claims.app_id} isn't supported in this scenario. "
            "Please check online documentation for assigning correct Directory Roles to Azure AD "
            "Application for EXO App-Only Authentication.",
        )
    return Connection(claims.app_id, claims.expires, cloud)
