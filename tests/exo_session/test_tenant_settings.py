"""The tenant file's Exchange-session settings are checked like every other field: one line naming it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from auditor.emulator.exchange.session_rules import SessionRules
from auditor.emulator.tenant import load_tenant
from auditor.errors import TenantFileError
from tests.collect_exchange.support import collector_doc


@pytest.mark.parametrize(("change", "message"), [
    ({"tokenLifetimeSeconds": 0}, "emulator.tokenLifetimeSeconds: must be a whole number of seconds"),
    ({"tokenLifetimeSeconds": "60"}, "emulator.tokenLifetimeSeconds: must be a whole number of seconds"),
    ({"expiredToken": "silent"}, "emulator.expiredToken: must be one of unauthorized, commandNotFound"),
    ({"clients": [{"appId": "0a1b2c3d-0000-4000-8000-00000000a0d1", "secret": "s", "deniedCmdlets": "Get-Mailbox"}]},
     "deniedCmdlets' must be a list"),
    ({"clients": [{"appId": "0a1b2c3d-0000-4000-8000-00000000a0d1", "secret": "s", "deniedCmdlets": ["Get Mailbox"]}]},
     "deniedCmdlets[0] must be a cmdlet name"),
])
def test_bad_session_settings_are_refused_in_one_line(change: dict[str, Any], message: str) -> None:
    doc = collector_doc()
    doc["emulator"].update(copy.deepcopy(change))
    with pytest.raises(TenantFileError) as info:
        load_tenant(doc)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_session_rules_read_from_the_tenant_file() -> None:
    doc = collector_doc()
    doc["emulator"]["expiredToken"] = "commandNotFound"
    doc["emulator"]["clients"][0]["deniedCmdlets"] = ["Test-ServicePrincipalAuthorization"]
    rules = SessionRules.from_doc(load_tenant(doc).doc)
    app = doc["emulator"]["clients"][0]["appId"]
    assert rules.expired_form == "commandNotFound"
    assert rules.denies(app.upper(), "test-serviceprincipalauthorization") and not rules.denies(app, "Get-Mailbox")
