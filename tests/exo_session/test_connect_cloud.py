"""Connect-ExchangeOnline in each cloud: -ExchangeEnvironmentName as the emulator received it, and -Organization."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, RunspacePool

from auditor.collect.exchange import collect_exchange
from auditor.collect.exo_session import organization_note
from auditor.collect.psrp import PsrpSettings, open_psrp_pool
from auditor.emulator.tenant import load_tenant
from auditor.errors import ConfigError
from auditor.models.baseline import load_baseline
from auditor.models.snapshot import SectionStatus
from tests.collect_exchange.support import audit_baseline, collector_doc, settings_for
from tests.emulator_exchange.helpers import DOMAIN, JUMP_USER, TENANT_ID, exchange_token, running, wsman

CLOUDS = [  # [auth] exchange_resource, [exchange] environment_name, what Connect-ExchangeOnline must receive
    ("https://outlook.office365.com", None, None),
    ("https://outlook.office365.us", None, "O365USGovGCCHigh"),
    ("https://webmail.apps.mil", None, "O365USGovDoD"),
    ("https://outlook-dod.office365.us", None, "O365USGovDoD"),
    ("https://partner.outlook.cn", None, "O365China"),
    ("https://outlook.office365.us", "O365USGovDoD", "O365USGovDoD"),  # the explicit key wins
]


@pytest.fixture(scope="module")
def jump() -> Any:
    with running(load_tenant(copy.deepcopy(collector_doc())), "jump-host") as pair:
        yield pair


@pytest.mark.parametrize(("resource", "environment", "expected"), CLOUDS)
def test_connect_sends_the_environment_of_the_cloud(jump: Any, resource: str, environment: str | None,
                                                    expected: str | None) -> None:
    server, service = jump
    audience = {"O365USGovDoD": "https://webmail.apps.mil"}.get(expected or "", resource)
    settings = settings_for(server)
    base = audit_baseline(server=settings.server, port=settings.port, auth="basic", username=JUMP_USER,
                          environment_name=environment)
    base = dataclasses.replace(base, auth=dataclasses.replace(base.auth, exchange_resource=resource,
                                                              ca_bundle=server.ca_path))
    before = len(service.connect_calls)
    sections, facts = collect_exchange(base, lambda: open_psrp_pool(
        base, settings.password, lambda: exchange_token(server, audience=audience), server.ca_path))
    calls = service.connect_calls[before:]
    assert len(calls) == facts["exchange"]["pools"] == 2
    for call in calls:
        assert call.get("ExchangeEnvironmentName") == expected
        assert call["Organization"] == DOMAIN and call["AccessToken"] == "<token>"
    assert all(s.status is SectionStatus.OK for s in sections.values()), {
        n: s.error for n, s in sections.items() if s.error}


def test_a_sovereign_token_without_the_environment_is_refused(jump: Any) -> None:
    """What happened before: the GCC High token presented to the worldwide environment."""
    server, _ = jump
    settings = settings_for(server)
    base = audit_baseline()
    _, facts = collect_exchange(base, lambda: open_psrp_pool(
        dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, server=settings.server,
                                                                 port=settings.port, auth="basic",
                                                                 username=JUMP_USER),
                            auth=dataclasses.replace(base.auth, ca_bundle=server.ca_path)),
        settings.password, lambda: exchange_token(server, audience="https://outlook.office365.us"), server.ca_path))
    assert "wrong audience 'https://outlook.office365.us'" in facts["exchange"]["error"]


def test_the_emulator_refuses_an_undocumented_environment_name(jump: Any) -> None:
    server, _ = jump
    with wsman(server) as conn, RunspacePool(conn, configuration_name="Microsoft.PowerShell") as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Connect-ExchangeOnline").add_parameter("AccessToken", exchange_token(server))
        ps.add_parameter("Organization", DOMAIN).add_parameter("ExchangeEnvironmentName", "O365USGov")
        ps.invoke()
    assert ps.had_errors and ps.state == 5
    (error,) = ps.streams.error
    assert error.fq_error == "ParameterArgumentTransformationError,Connect-ExchangeOnline"
    assert "Cannot bind parameter 'ExchangeEnvironmentName'" in str(error) and "O365USGovGCCHigh" in str(error)


def test_organization_may_be_the_tenant_id(jump: Any) -> None:
    server, service = jump
    sections, _ = collect_exchange(audit_baseline(), lambda: open_psrp_pool(
        _psrp_baseline(server), settings_for(server).password, lambda: exchange_token(server), server.ca_path))
    assert service.connect_calls[-1]["Organization"] == TENANT_ID
    assert sections["exchange.applicationAccessPolicies"].status is SectionStatus.OK


def _psrp_baseline(server: Any) -> Any:
    settings = settings_for(server)
    base = audit_baseline(server=settings.server, port=settings.port, auth="basic", username=JUMP_USER)
    return dataclasses.replace(base, tenant=dataclasses.replace(base.tenant, domain=TENANT_ID),
                               auth=dataclasses.replace(base.auth, ca_bundle=server.ca_path))


@pytest.mark.parametrize(("domain", "doubtful"), [
    ("contoso.onmicrosoft.com", False), ("Contoso.OnMicrosoft.com", False), (TENANT_ID, False),
    ("contoso.onmicrosoft.us", False), ("contoso.partner.onmschina.cn", False), ("contoso.com", True),
    ("mail.contoso.onmicrosoft.com.evil.example", True)])
def test_organization_note(domain: str, doubtful: bool) -> None:
    note = organization_note(domain)
    assert (note is not None) == doubtful
    if note:
        assert domain in note and ".onmicrosoft.com" in note and "\n" not in note


def test_environment_name_is_checked_against_the_documented_values(tmp_path: Any) -> None:
    path = tmp_path / "b.toml"
    path.write_text(f'[tenant]\nid = "{TENANT_ID}"\n[exchange]\nenvironment_name = "O365USGov"\n')
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    assert "exchange.environment_name" in str(info.value) and "O365USGovGCCHigh" in str(info.value)
    path.write_text(f'[tenant]\nid = "{TENANT_ID}"\n[exchange]\nenvironment_name = "O365China"\n')
    assert load_baseline(path).exchange.environment_name == "O365China"
    derived = PsrpSettings.from_baseline(load_baseline(path), "")
    assert derived.environment == "O365China"


def test_a_domain_that_is_not_the_onmicrosoft_one_is_warned_once(tmp_path: Any, monkeypatch: Any,
                                                                     capsys: Any) -> None:
    import json
    import re

    from auditor.cli import main
    from auditor.demo import DEMO_BASELINE, DEMO_TENANT, baseline_toml, running_emulator

    tenant = json.loads(DEMO_TENANT.read_text())
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", tenant["emulator"]["clients"][0]["secret"])
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", tenant["emulator"]["jumpHost"]["password"])
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    with running_emulator(DEMO_TENANT) as server:
        intent = re.sub(r"(?ms)^\[tenant\].*?(?=^\[)", "", DEMO_BASELINE.read_text())
        toml = baseline_toml(server).replace(f'domain = "{server.tenant.default_domain}"', 'domain = "contoso.com"')
        (tmp_path / "b.toml").write_text(toml + "\n" + intent)
        with pytest.raises(SystemExit) as exc:
            main(["collect", "--baseline", str(tmp_path / "b.toml"), "--out", str(tmp_path / "s.json"), "--quiet"])
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if "warning" in line]
    assert exc.value.code == 3  # the organization is refused: Exchange sections are ERROR, named on stderr
    assert len(warnings) == 1 and warnings[0].startswith("auditor: warning: [tenant] domain 'contoso.com'")
    facts = json.loads((tmp_path / "s.json").read_text())["collection"]["exchange"]
    assert "'contoso.com' is not the tenant's primary .onmicrosoft.com domain" in facts["organization_note"]
