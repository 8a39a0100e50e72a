"""The Exchange Online clouds the emulator knows: each `-ExchangeEnvironmentName` value of Connect-ExchangeOnline
and the token audiences (the Exchange resource) it connects with (docs/microsoft-facts.md, "Exchange Online
session"). A leaf module: the tenant file's checks and the emulated Exchange both read it."""

from __future__ import annotations

# O365Default is the default; the DoD cloud is reached as webmail.apps.mil (the documented ConnectionUri) and
# its tokens are issued for outlook-dod.office365.us (community scripts): both are accepted.
ENVIRONMENT_AUDIENCES: dict[str, frozenset[str]] = {
    "O365Default": frozenset({"https://outlook.office365.com"}),
    "O365GermanyCloud": frozenset({"https://outlook.office.de"}),
    "O365China": frozenset({"https://partner.outlook.cn"}),
    "O365USGovGCCHigh": frozenset({"https://outlook.office365.us"}),
    "O365USGovDoD": frozenset({"https://webmail.apps.mil", "https://outlook-dod.office365.us"}),
}
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"  # Office 365 Exchange Online, as a token audience
