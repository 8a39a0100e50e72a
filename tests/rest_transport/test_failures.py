"""When InvokeCommand refuses or breaks: one cause on every Exchange section, ERROR findings, no secret anywhere."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest

from auditor.collect.exchange_reader import read_exchange
from auditor.collect.rest import RestSettings, RestShellPool
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import load_tenant
from auditor.engine import evaluate
from auditor.errors import CollectionError, TenantFileError
from auditor.models.findings import Status
from auditor.models.snapshot import SectionStatus
from tests.collect_exchange.support import EXCHANGE_SECTIONS, audit_baseline, collector_doc, snapshot_with
from tests.emulator_exchange.helpers import AUDITOR_APP, exchange_token

from .support import both_transports, collect_rest, open_pool, rest_counts, rest_settings

EXCHANGE_CHECKS = {"GRP-001", "GRP-002", "GRP-003", "GRP-004", "MBX-001", "MBX-002", "SCOPE-001", "SCOPE-002",
                   "SCOPE-003", "SCOPE-004", "SCOPE-005", "SCOPE-006"}


def _refused(server: EmulatorServer, token: str) -> tuple[str, dict[str, Any]]:
    """The one-line error of opening the pool, and what the collector and the checks make of it."""
    before = rest_counts(server)
    with pytest.raises(CollectionError) as info:
        open_pool(server, lambda: token)
    sections, facts = collect_rest(server, token=lambda: token)
    message = str(info.value)
    assert {n: s.status for n, s in sections.items()} == dict.fromkeys(EXCHANGE_SECTIONS, SectionStatus.ERROR)
    assert {s.error for s in sections.values()} == {message}
    assert facts == {"exchange": {"error": message}}
    assert "\n" not in message and token not in message and token not in json.dumps(facts)
    delta = {k: v - before.get(k, 0) for k, v in rest_counts(server).items() if v != before.get(k, 0)}
    assert not any(k.startswith("rest:Get-") or k.startswith("rest:Test-") for k in delta)  # no cmdlet ever ran
    assert delta["POST /adminapi/{path}"] == 2  # one refused probe per attempt to open: no storm of 401s

    findings = evaluate(snapshot_with(sections), audit_baseline()).findings
    exchange = [f for f in findings if f.check_id in EXCHANGE_CHECKS]
    errors = [f for f in exchange if f.status is Status.ERROR]
    assert {f.check_id for f in errors if f.integration == "Contact Center"} == EXCHANGE_CHECKS
    assert all("refused the access token" in f.message for f in errors)
    assert {f.message for f in exchange if f.status is not Status.ERROR} == {"no scope_group in the baseline"}
    return message, delta


def test_wrong_audience_token(server: EmulatorServer) -> None:
    message, delta = _refused(server, exchange_token(server, audience="https://graph.microsoft.com"))
    url = rest_settings(server).url
    assert message.startswith(f"the Exchange REST endpoint {url} refused the access token (HTTP 401 UnAuthorized): "
                              "The access token is invalid: wrong audience 'https://graph.microsoft.com' (expected "
                              "'https://outlook.office365.com').")
    assert delta["rest:401"] == 2


def test_token_without_exchange_manage_as_app(server: EmulatorServer) -> None:
    message, delta = _refused(server, exchange_token(server, roles=("Exchange.Manage",)))
    assert f"(HTTP 403 Forbidden): The role assigned to application {AUDITOR_APP} isn't supported" in message
    assert "needs the Office 365 Exchange Online application permission Exchange.ManageAsApp" in message
    assert delta["rest:403"] == 2


def test_token_for_another_tenant(server: EmulatorServer) -> None:
    other = "99999999-9999-4999-8999-999999999999"
    message, _ = _refused(server, exchange_token(server, tenant_id=other))
    assert f"The access token was issued for tenant '{other}'" in message


def test_tls_verification_uses_the_configured_ca_only(server: EmulatorServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The system store does not know the emulator's CA; REQUESTS_CA_BUNDLE must not override ca_bundle."""
    with pytest.raises(CollectionError) as info:
        open_pool(server, verify=True)
    message = str(info.value)
    assert message.startswith("TLS verification of https://127.0.0.1:") and "certificate verify failed" in message
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")  # the pitfall: would replace `verify`
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/bundle.pem")
    sections, _ = collect_rest(server)
    assert all(s.status is SectionStatus.OK for s in sections.values())


def test_exchange_down_is_retried_then_reported(server: EmulatorServer) -> None:
    waits: list[float] = []
    server.faults.exchange_down = True
    try:
        sections, facts = collect_rest(server, sleep=waits.append, max_attempts=3)
    finally:
        server.faults.exchange_down = False
    url = rest_settings(server).url
    assert facts["exchange"]["error"] == f"Get-Mailbox -ResultSize: HTTP 503 from {url}: Service Unavailable"
    assert {s.status for s in sections.values()} == {SectionStatus.ERROR}
    assert waits == [0.5, 1.0]  # no Retry-After: exponential backoff, two retries within three attempts


def test_connection_refused(server: EmulatorServer) -> None:
    with pytest.raises(CollectionError) as info:
        RestShellPool.open(rest_settings(server, endpoint="https://127.0.0.1:9/adminapi/beta", max_attempts=2),
                           lambda: exchange_token(server), lambda seconds: None)
    assert str(info.value) == "Get-Mailbox -ResultSize: cannot reach https://127.0.0.1:9: connection refused"


def test_token_never_logged_or_stored(server: EmulatorServer, caplog: pytest.LogCaptureFixture) -> None:
    names = ("urllib3", "requests", "auditor")
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)  # what a careless `-v` would do
    caplog.set_level(logging.DEBUG)
    issued: list[str] = []

    def token() -> str:
        issued.append(exchange_token(server))
        return issued[-1]

    bad = exchange_token(server, audience="https://graph.microsoft.com")
    try:
        sections, facts = collect_rest(server, token=token)
        failed, failed_facts = collect_rest(server, token=lambda: bad)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    assert all(s.status is SectionStatus.OK for s in sections.values()) and len(issued) > 10
    assert all(s.status is SectionStatus.ERROR for s in failed.values())
    evidence = json.dumps([{n: s.to_dict() for n, s in d.items()} for d in (sections, failed)]) + json.dumps(
        [facts, failed_facts])
    for secret in {*issued, bad}:
        assert secret not in caplog.text and secret not in evidence


def test_wiring_from_the_baseline(server: EmulatorServer) -> None:
    base = audit_baseline(transport="rest", rest_endpoint=f"{server.base_url}/adminapi/beta/", pools=3)
    base = dataclasses.replace(base, auth=dataclasses.replace(base.auth, ca_bundle=server.ca_path, timeout_s=7))
    settings = RestSettings.from_baseline(base)
    assert settings == rest_settings(server, pools=3, connect_timeout_s=7, operation_timeout_s=60,
                                     backoff_s=RestSettings.backoff_s)
    sections, facts = read_exchange(base, None, lambda: exchange_token(server))  # type: ignore[arg-type]
    assert all(s.status is SectionStatus.OK for s in sections.values())
    assert facts["exchange"]["transport"] == "rest" and facts["exchange"]["pools"] == 3


def test_a_token_for_another_clouds_exchange_is_refused(server: EmulatorServer) -> None:
    """The worldwide endpoint takes no GCC High token (the emulator plays one cloud: emulator.exchangeEnvironment)."""
    message, _ = _refused(server, exchange_token(server, audience="https://outlook.office365.us"))
    assert "wrong audience 'https://outlook.office365.us' (expected 'https://outlook.office365.com')" in message


def test_an_endpoint_playing_gcc_high_takes_its_own_clouds_token_only() -> None:
    doc = collector_doc()
    doc["emulator"]["exchangeEnvironment"] = "O365USGovGCCHigh"
    with both_transports(load_tenant(doc)) as (server, _):
        message, _ = _refused(server, exchange_token(server))  # the worldwide audience
        assert "(expected 'https://outlook.office365.us')" in message
        sections, _ = collect_rest(server, token=lambda: exchange_token(server, audience="https://outlook.office365.us"))
        assert all(s.status is SectionStatus.OK for s in sections.values())


def test_an_unknown_cloud_is_refused_by_the_tenant_file() -> None:
    doc = collector_doc()
    doc["emulator"]["exchangeEnvironment"] = "O365Moon"
    with pytest.raises(TenantFileError, match=r"emulator\.exchangeEnvironment: must be one of O365Default"):
        load_tenant(doc)
