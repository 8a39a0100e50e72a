"""When Exchange cannot be reached: one-line causes, every Exchange section `error`, and no secret anywhere."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

import pytest

from auditor.collect.exchange import collect_exchange
from auditor.collect.psrp import PsrpSettings, PsrpShell, PsrpShellPool, open_psrp_pool
from auditor.emulator.exchange import ExchangeService
from auditor.emulator.server import EmulatorServer
from auditor.errors import CollectionError, ConfigError
from auditor.models.snapshot import SectionStatus
from tests.emulator_exchange.helpers import AUDITOR_APP, JUMP_USER, exchange_token

from .support import EXCHANGE_SECTIONS, audit_baseline, collect, settings_for

Pair = tuple[EmulatorServer, ExchangeService]


def _refused(server: EmulatorServer, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """The one-line error of opening the pools, and what the collector makes of the same failure."""
    token = overrides.pop("token", None)
    settings = settings_for(server, **overrides)
    provider = (lambda: token) if token else (lambda: exchange_token(server))
    with pytest.raises(CollectionError) as info:
        PsrpShellPool.open(settings, provider)
    sections, facts = collect_exchange(audit_baseline(), lambda: PsrpShellPool.open(settings, provider))
    assert {n: s.status for n, s in sections.items()} == dict.fromkeys(EXCHANGE_SECTIONS, SectionStatus.ERROR)
    assert {s.error for s in sections.values()} == {str(info.value)}
    assert facts == {"exchange": {"error": str(info.value)}}
    message = str(info.value)
    assert "\n" not in message and len(message) < 500
    return message, facts


def test_wrong_audience_token(jump_host: Pair) -> None:
    server, _ = jump_host
    token = exchange_token(server, audience="https://graph.microsoft.com")
    message, _ = _refused(server, token=token)
    assert message == ("Connect-ExchangeOnline on 127.0.0.1 failed: The access token is invalid: wrong audience "
                       "'https://graph.microsoft.com' (expected 'https://outlook.office365.com').")
    assert token not in message


def test_token_without_exchange_manage_as_app(jump_host: Pair) -> None:
    server, _ = jump_host
    message, _ = _refused(server, token=exchange_token(server, roles=("Exchange.Manage",)))
    assert message.startswith("Connect-ExchangeOnline on 127.0.0.1 failed: The role assigned to application "
                              f"{AUDITOR_APP} isn't supported in this scenario.")
    assert message.endswith("(the auditor's app needs Exchange.ManageAsApp and a role such as Global Reader)")


def test_wrong_basic_password(jump_host: Pair) -> None:
    server, _ = jump_host
    before = server.counters.snapshot().get("psrp:Connect-ExchangeOnline", 0)
    message, _ = _refused(server, password="not-the-password")
    port = settings_for(server).port
    assert message == (f"the jump host rejected the credentials for {JUMP_USER} (HTTP 401) at "
                       f"https://127.0.0.1:{port}/wsman")
    assert "not-the-password" not in message
    assert server.counters.snapshot().get("psrp:Connect-ExchangeOnline", 0) == before  # never got that far


def test_tls_verification_failure(jump_host: Pair) -> None:
    server, _ = jump_host
    message, _ = _refused(server, cert_validation=True)  # the system store does not know the emulator's CA
    port = settings_for(server).port
    assert message.startswith(f"TLS verification of 127.0.0.1:{port} failed: certificate verify failed")


def test_connection_refused(jump_host: Pair) -> None:
    server, _ = jump_host
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message, _ = _refused(server, port=port, connection_timeout_s=2)
    assert message == f"cannot connect to 127.0.0.1:{port}: connection refused"


def test_exchange_down_is_retried_then_reported(jump_host: Pair) -> None:
    server, _ = jump_host
    server.faults.exchange_down = True
    try:
        message, _ = _refused(server)
    finally:
        server.faults.exchange_down = False
    assert message.startswith("HTTP 503 from https://127.0.0.1:") and message.endswith("Service Unavailable")


def test_jump_host_needs_a_token_and_a_domain(jump_host: Pair) -> None:
    server, _ = jump_host
    with pytest.raises(ConfigError, match="needs an Exchange access token and"):
        PsrpShell(settings_for(server))
    with pytest.raises(ConfigError, match=r"needs an Exchange access token and \[tenant\] domain"):
        PsrpShell(settings_for(server, organization=""), lambda: "token")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    names = ("pypsrp", "psrpcore", "urllib3", "spnego", "requests_credssp")
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)  # what a careless `-v` would do
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(), escape(secret)]


def test_token_and_password_never_logged_or_stored(jump_host: Pair, debug_logs: pytest.LogCaptureFixture) -> None:
    server, _ = jump_host
    issued: list[str] = []

    def token() -> str:
        issued.append(exchange_token(server))
        return issued[-1]

    sections, facts = collect(server, audit_baseline(), token=token)
    bad = exchange_token(server, audience="https://graph.microsoft.com")
    failed, failed_facts = collect(server, audit_baseline(), token=lambda: bad)
    assert sections["exchange.accessTests"].status is SectionStatus.OK and len(issued) == 2
    assert failed["exchange.accessTests"].status is SectionStatus.ERROR
    evidence = json.dumps([{n: s.to_dict() for n, s in d.items()} for d in (sections, failed)]) + json.dumps(
        [facts, failed_facts])
    for secret in [*issued, bad, settings_for(server).password]:
        for form in _forms(secret):
            assert form not in debug_logs.text
            assert form not in evidence
    assert logging.getLogger("pypsrp").level == logging.WARNING


def test_direct_endpoint_needs_no_token(collector_tenant: Any) -> None:
    from tests.emulator_exchange.helpers import running

    with running(collector_tenant, "direct") as (server, _):
        sections, facts = collect(server, audit_baseline(), connect="direct", configuration_name="Microsoft.Exchange")
        assert "psrp:Connect-ExchangeOnline" not in server.counters.snapshot()
    assert all(s.status is SectionStatus.OK for s in sections.values())
    assert facts["exchange"]["pools"] == 2


def test_wiring_from_the_baseline(jump_host: Pair) -> None:
    server, _ = jump_host
    settings = settings_for(server)
    base = audit_baseline(server=settings.server, port=settings.port, auth="basic", username=JUMP_USER, pools=3)
    derived = PsrpSettings.from_baseline(base, settings.password, server.ca_path)
    assert dataclasses.replace(derived, operation_timeout_s=5, backoff_s=settings.backoff_s) == dataclasses.replace(
        settings, pools=3)
    assert settings.password not in repr(derived)
    sections, facts = collect_exchange(base, lambda: open_psrp_pool(base, settings.password,
                                                                      lambda: exchange_token(server), server.ca_path))
    assert facts["exchange"]["pools"] == 3 and facts["exchange"]["transport"] == "psrp"
    assert all(s.status is SectionStatus.OK for s in sections.values())
