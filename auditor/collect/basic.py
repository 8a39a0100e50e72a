"""The jump host password under Basic authentication ([exchange] auth = "basic").

WinRM's Basic challenge (`WWW-Authenticate: Basic realm="WSMAN"`) names no charset, so RFC 7617 section 2.1
leaves the encoding of the credentials undefined; requests, under pypsrp, encodes them as ISO-8859-1, as
RFC 2617 did, and cannot encode anything else (docs/decisions.md, "Jump host passwords"). A password with a
character outside ISO-8859-1 is refused before any request, instead of failing inside the client.
"""

from __future__ import annotations

from auditor.errors import ConfigError
from auditor.models.baseline import ExchangeAuth, ExchangeConfig, ExchangeTransport

BASIC_CHARSET = "iso-8859-1"


def check_basic_password(exchange: ExchangeConfig, password: str | None) -> None:
    if exchange.transport is not ExchangeTransport.PSRP or exchange.auth is not ExchangeAuth.BASIC or not password:
        return
    try:
        password.encode(BASIC_CHARSET)
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"the jump host password holds a character Basic authentication cannot carry "
            f"(position {exc.start + 1}, outside ISO-8859-1): use [exchange] auth = \"negotiate\", \"ntlm\" or "
            "\"certificate\", or another password") from None
