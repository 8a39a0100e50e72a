"""Tokens expire during long runs: the Exchange session reconnects with a fresh one (bounded), over PSRP and REST."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from typing import Any

import pytest

from auditor.collect import exo_session, psrp
from auditor.collect.exchange_reader import read_exchange
from auditor.collect.psrp import PsrpShellPool
from auditor.collect.run import collect
from auditor.collect.shell import Command, PipelineFailed
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.emulator.faults import FaultPlan
from auditor.emulator.tenant import load_tenant
from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from auditor.models.snapshot import SectionStatus
from tests.collect_exchange.support import collector_doc, settings_for
from tests.emulator_exchange.helpers import exchange_token, running
from tests.rest_transport.support import both_transports, collect_rest

LIFETIME_S = 3  # the emulator's token lifetime in the whole-audit test: the run outlives its first tokens
LATENCY_MS = 80  # ... because every request (Graph, token, WSMan) waits this long: ~2.7 s of Exchange reads


def _findings(tenant_file: Any, faults: FaultPlan | None = None, transport: str = "psrp"
              ) -> tuple[list[tuple[str, ...]], dict[str, Any]]:
    with running_emulator(tenant_file, faults) as server:
        base = emulator_baseline(load_baseline(DEMO_BASELINE), server)
        base = dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, transport=transport))
        snapshot = collect(base, emulator_settings(server), read_exchange)
    result = evaluate(snapshot, base)
    return sorted((f.check_id, f.integration or "", f.resource, f.status.value) for f in result.findings), \
        snapshot.collection["exchange"]


def test_an_audit_outliving_its_tokens_finds_what_a_normal_run_finds(tmp_path: Any) -> None:
    normal, _ = _findings(DEMO_TENANT)
    doc = json.loads(DEMO_TENANT.read_text())
    doc["emulator"]["tokenLifetimeSeconds"] = LIFETIME_S
    short = tmp_path / "short-tokens.json"
    short.write_text(json.dumps(doc))
    found, facts = _findings(short, FaultPlan(latency_ms=LATENCY_MS))
    assert facts["wall_s"] > LIFETIME_S - 1  # the run did outlive a token ...
    assert facts["reconnects"] >= 1  # ... and connected again rather than failing
    assert found == normal
    assert not [f for f in found if f[3] == "ERROR"]
    # Over REST every request carries a token from msal, which renews one near its expiry itself: a whole REST run
    # outliving its tokens is the same run; a token that still expires in flight is retried once (below).


@pytest.fixture(params=["unauthorized", "commandNotFound"])
def short_lived(request: Any) -> Any:
    doc = collector_doc()
    doc["emulator"].update(tokenLifetimeSeconds=2, expiredToken=request.param)
    with running(load_tenant(copy.deepcopy(doc)), "jump-host") as pair:
        yield pair


def test_an_expired_token_answer_reconnects_the_pool(short_lived: Any, monkeypatch: Any) -> None:
    """The reactive path alone: the token's expiry is not known in advance (access tokens are opaque), so the
    session learns it from Exchange's answer, in either form, and reconnects once."""
    server, service = short_lived
    monkeypatch.setattr(psrp, "reconnect_at", lambda token: None)
    handed: list[str] = []

    def provider() -> str:
        handed.append(exchange_token(server))
        return handed[-1]

    def until_expired() -> None:  # the last token's `exp` (whole seconds, at most 2 s away) has passed
        time.sleep(max(0.0, server.tokens.verify(handed[-1]).expires.timestamp() - time.time()) + 0.05)

    pool = PsrpShellPool.open(settings_for(server, pools=1), provider)
    try:
        mailbox = Command("Get-Mailbox", {"Identity": "support@contoso.com"})
        assert len(pool.run([mailbox]).rows) == 1
        until_expired()
        assert len(pool.run([mailbox]).rows) == 1
        assert pool.stats().reconnects == 1 and len(service.connect_calls) == 2
        monkeypatch.setattr(exo_session, "MAX_RECONNECTS", 1)  # the budget is spent: the expiry shows, in one line,
        until_expired()  # never as a missing role
        with pytest.raises(PipelineFailed) as info:
            pool.run([mailbox])
        message = str(info.value)
        assert "Get-ManagementRole" not in message and "reconnects for this run are spent (1)" in message
        if service.session_rules.expired_form == "unauthorized":
            assert "access token has expired" in str(info.value) and "\n" not in str(info.value)
    finally:
        pool.close()


def test_rest_retries_a_401_once_with_a_fresh_token() -> None:
    doc = collector_doc()
    with both_transports(load_tenant(copy.deepcopy(doc))) as (server, _):
        stale = server.tokens.issue(*_auditor(server), lifetime_s=-10)  # a cached token that expired in flight
        handed: list[str] = []

        def provider() -> str:
            handed.append(stale if not handed else exchange_token(server))
            return handed[-1]

        sections, facts = collect_rest(server, token=provider)
        refusals = server.counters.snapshot().get("rest:401", 0)
    assert refusals == 1 and facts["exchange"]["reconnects"] == 1
    assert all(s.status is SectionStatus.OK for s in sections.values()), {
        n: s.error for n, s in sections.items() if s.error}


def test_rest_gives_up_when_no_fresher_token_comes() -> None:
    with both_transports(load_tenant(copy.deepcopy(collector_doc()))) as (server, _):
        stale = server.tokens.issue(*_auditor(server), lifetime_s=-10)
        sections, facts = collect_rest(server, token=lambda: stale)
        refusals = server.counters.snapshot().get("rest:401", 0)
    assert refusals == 1  # one refusal, no loop
    assert "refused the access token (HTTP 401" in facts["exchange"]["error"]
    assert {s.status for s in sections.values()} == {SectionStatus.ERROR}


def _auditor(server: Any) -> tuple[str, str, list[str], str]:
    from tests.emulator_exchange.helpers import AUDITOR_APP, EXCHANGE_AUDIENCE, TENANT_ID

    return AUDITOR_APP, EXCHANGE_AUDIENCE, ["Exchange.ManageAsApp"], TENANT_ID
