"""REST collection against the emulator: cmdlet errors, paging and throttling, each compared with PSRP's evidence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from auditor.collect.shell import Command
from auditor.emulator.exchange.rest import RestService
from auditor.emulator.faults import FaultPlan
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant
from auditor.models.snapshot import SectionStatus
from tests.collect_exchange.support import EXCHANGE_SECTIONS, audit_baseline
from tests.collect_exchange.support import collect as collect_psrp
from tests.emulator_exchange.helpers import APP_RESTRICTED

from .support import as_json, both_transports, collect_rest, open_pool, rest_counts

Pair = tuple[EmulatorServer, RestService]


@pytest.fixture(scope="module")
def psrp_evidence(server: EmulatorServer) -> dict[str, Any]:
    """What the PSRP transport collects from the same emulator: the reference every REST run must match."""
    sections, _ = collect_psrp(server, audit_baseline())
    return as_json(sections)


def _delta(server: EmulatorServer, before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in rest_counts(server).items() if v != before.get(k, 0)}


def test_happy_path_matches_psrp_with_one_request_per_cmdlet(server: EmulatorServer,
                                                             psrp_evidence: dict[str, Any]) -> None:
    before = rest_counts(server)
    sections, facts = collect_rest(server)
    assert as_json(sections) == psrp_evidence
    assert {n: s.status for n, s in sections.items()} == dict.fromkeys(EXCHANGE_SECTIONS, SectionStatus.OK)
    delta, ex = _delta(server, before), facts["exchange"]
    by_cmdlet = {k.removeprefix("rest:"): v for k, v in delta.items() if k.startswith("rest:")}
    probe = {"Get-Mailbox": 1}
    assert by_cmdlet == {k: v + probe.get(k, 0) for k, v in ex["pipelines_by_cmdlet"].items()}
    assert delta["POST /adminapi/{path}"] == ex["round_trips"] == sum(by_cmdlet.values())
    assert ex["pipelines_by_cmdlet"]["Test-ApplicationAccessPolicy"] == len(sections["exchange.accessTests"].data)


def test_missing_mailbox_is_one_item_error_as_over_psrp(server: EmulatorServer) -> None:
    base = audit_baseline(contact_canaries=("ceo@contoso.com", "nobody@contoso.com"))
    psrp, _ = collect_psrp(server, base)
    rest, _ = collect_rest(server, base)
    assert as_json(rest) == as_json(psrp)
    tests = rest["exchange.accessTests"]
    key = f"{APP_RESTRICTED}|nobody@contoso.com"
    assert tests.status is SectionStatus.OK and list(tests.item_errors) == [key]
    assert tests.item_errors[key].startswith("The operation couldn't be performed because object "
                                             "'nobody@contoso.com' couldn't be found on '")
    assert "nobody@contoso.com" in (rest["exchange.mailboxes"].queried or ())  # asked, not found: MBX-001 judges


def test_failing_cmdlet_is_a_section_error_with_its_message(small_tenant: Tenant) -> None:
    plan = FaultPlan(psrp_fail=frozenset({"Test-ApplicationAccessPolicy"}))
    with both_transports(small_tenant, plan) as (server, _):
        psrp, _ = collect_psrp(server, audit_baseline())
        rest, facts = collect_rest(server)
    tests = rest["exchange.accessTests"]
    assert tests.status is SectionStatus.ERROR
    assert tests.error == psrp["exchange.accessTests"].error
    assert (tests.error or "").startswith("Test-ApplicationAccessPolicy failed: The server is busy. Please try "
                                          "again later.")
    assert {n for n, s in rest.items() if s.status is not SectionStatus.OK} == {"exchange.accessTests"}
    assert facts["exchange"]["retries"] > 0  # transient: each request was retried with backoff first


def test_listing_larger_than_a_page_is_followed_to_the_end(server: EmulatorServer, small_tenant: Tenant,
                                                           psrp_evidence: dict[str, Any]) -> None:
    """Get-Mailbox -ResultSize Unlimited in pages of 3 (the server honours `Prefer: odata.maxpagesize`): every
    page requested once, every row once, in order; and the collected evidence is PSRP's."""
    mailboxes = len(small_tenant.doc["exchange"]["mailboxes"])
    pages = -(-mailboxes // 3)
    assert pages >= 5
    pool = open_pool(server, page_size=3)
    before = rest_counts(server)
    try:
        out = pool.run([Command("Get-Mailbox", {"ResultSize": "Unlimited"})])
    finally:
        pool.close()
    assert _delta(server, before) == {"rest:Get-Mailbox": pages, "POST /adminapi/{path}": pages}
    addresses = [row["PrimarySmtpAddress"] for row in out.rows]
    assert addresses == [m["PrimarySmtpAddress"] for m in small_tenant.doc["exchange"]["mailboxes"]]
    sections, _ = collect_rest(server, page_size=3)
    assert as_json(sections) == psrp_evidence


def test_next_link_is_refused_outside_the_endpoint(emulator: Pair) -> None:
    """The bearer token rides on every page request: a link to another origin is never followed."""
    server, service = emulator

    def elsewhere(path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        status, reply_headers, reply = service.handle(path, headers, body)
        return status, reply_headers, reply.replace(b"https://127.0.0.1", b"https://attacker.example")

    server.rest_handler = elsewhere
    try:
        sections, _ = collect_rest(server, page_size=1)
    finally:
        server.rest_handler = service.handle
    assert sections["canaries"].status is SectionStatus.ERROR
    assert "refusing to follow @odata.nextLink to https://attacker.example" in (sections["canaries"].error or "")


@pytest.fixture
def throttled(server: EmulatorServer) -> Iterator[list[float]]:
    server.faults.throttle_every, server.faults.retry_after_s = 4, 7
    try:
        yield []
    finally:
        server.faults.throttle_every, server.faults.retry_after_s = 0, 1


def test_throttling_is_recovered_with_identical_evidence(server: EmulatorServer, throttled: list[float],
                                                         psrp_evidence: dict[str, Any]) -> None:
    before = rest_counts(server)
    sections, facts = collect_rest(server, sleep=throttled.append, max_total_wait_s=10_000)
    assert as_json(sections) == psrp_evidence
    refused = _delta(server, before)["rest:429"]
    assert refused >= 10 and facts["exchange"]["retries"] == refused
    assert throttled == [7.0] * refused  # Retry-After honoured, every time
    assert facts["exchange"]["retry_wait_s"] == 7.0 * refused


def test_throttling_beyond_the_wait_budget_fails_with_the_reason(server: EmulatorServer,
                                                                 throttled: list[float]) -> None:
    sections, _ = collect_rest(server, sleep=throttled.append, max_total_wait_s=30)
    problems = [s.error for s in sections.values() if s.error] + [
        e for s in sections.values() for e in s.item_errors.values()]
    assert problems and sum(throttled) <= 30
    assert all("gave up after waiting 28 s for Exchange to recover (retry budget 30 s)" in p for p in problems)
