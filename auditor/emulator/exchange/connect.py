"""`Connect-ExchangeOnline -AccessToken -Organization` on an emulated jump host: Exchange's token checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.emulator.exchange.binding import bind
from auditor.emulator.exchange.model import UNAUTHORIZED, CmdletError, ErrorInfo
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenIssuer

CONNECT = "Connect-ExchangeOnline"
DISCONNECT = "Disconnect-ExchangeOnline"
EXCHANGE_AUDIENCES = frozenset({"https://outlook.office365.com", "00000002-0000-0ff1-ce00-000000000000"})
MANAGE_AS_APP = "Exchange.ManageAsApp"
CONNECT_PARAMS = (
    "AccessToken",
    "Organization",
    "ShowBanner",
    "AppId",
    "SkipLoadingFormatData",
    "ShowProgress",
    "CommandName",
)
_TASK = "Microsoft.Exchange.Management.ExoPowershellSnapin.ConnectExchangeOnline"


def _refused(reason: str, message: str) -> CmdletError:
    return CmdletError(ErrorInfo(UNAUTHORIZED, message, f"{reason},{_TASK}", "AuthenticationError", CONNECT))


def connect(tenant: Tenant, tokens: TokenIssuer, parameters: Sequence[tuple[str | None, Any]]) -> str:
    """Check a Connect-ExchangeOnline call; returns the app id on success, raises CmdletError otherwise."""
    bound = bind(CONNECT, CONNECT_PARAMS, parameters, ("AccessToken", "Organization"))
    token = str(bound["AccessToken"])
    organization = str(bound["Organization"])
    claims = tokens.verify(token)
    if claims is None:
        raise _refused("UnAuthorized", "The access token is invalid or has expired. (UnAuthorized)")
    audience = claims.audience.rstrip("/").lower()
    if audience not in EXCHANGE_AUDIENCES:
        raise _refused(
            "UnAuthorized",
            f"The access token is invalid: wrong audience '{claims.audience}' "
            "(expected 'https://outlook.office365.com').",
        )
    if claims.tenant_id.lower() != tenant.id.lower():
        raise _refused(
            "UnAuthorized",
            f"The access token was issued for tenant '{claims.tenant_id}', not for organization '{organization}'.",
        )
    if organization.lower() != tenant.default_domain.lower():
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
    return claims.app_id
