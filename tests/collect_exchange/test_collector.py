"""The Exchange collector end to end: real pypsrp over HTTPS (CA verified) against the emulated jump host."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from auditor.collect.shell import Command
from auditor.emulator.exchange import ExchangeService
from auditor.emulator.faults import FaultPlan
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant
from auditor.engine import evaluate
from auditor.models import exchange as ex
from auditor.models.findings import Status
from auditor.models.snapshot import SECTION_NAMES, SectionStatus
from tests.emulator_exchange.helpers import APP_RBAC, APP_RESTRICTED, running

from .support import EXCHANGE_SECTIONS, QUEUES, RewritingShell, audit_baseline, collect, snapshot_with, wsman_counts

Pair = tuple[EmulatorServer, ExchangeService]
CONTACT, TICKETING = APP_RESTRICTED, APP_RBAC
ALLOWED_PSRP = {"psrp:Connect-ExchangeOnline", "psrp:Get-ApplicationAccessPolicy", "psrp:Get-ManagementScope",
                "psrp:Get-ServicePrincipal", "psrp:Get-ManagementRoleAssignment", "psrp:Get-Mailbox",
                "psrp:Get-EXOMailbox", "psrp:Get-DistributionGroup", "psrp:Get-DistributionGroupMember",
                "psrp:Get-Recipient", "psrp:Test-ApplicationAccessPolicy", "psrp:Test-ServicePrincipalAuthorization"}


@pytest.fixture(scope="module")
def happy(jump_host: Pair) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    server, _ = jump_host
    before = wsman_counts(server)
    sections, facts = collect(server, audit_baseline())
    after = wsman_counts(server)
    return sections, facts, {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def _expected_sample(app_id: str, pool: list[str], excluded: set[str], size: int) -> list[str]:
    ranked = sorted((a for a in pool if a not in excluded),
                    key=lambda a: hashlib.sha256((app_id + a).encode()).hexdigest())
    return ranked[:size]


def test_happy_path_sections(happy: Any, collector_tenant_doc: dict[str, Any]) -> None:
    sections, _, _ = happy
    assert set(sections) == set(EXCHANGE_SECTIONS) == {n for n in SECTION_NAMES if not n.startswith("graph.")}
    assert {n: s.status for n, s in sections.items()} == dict.fromkeys(EXCHANGE_SECTIONS, SectionStatus.OK)
    assert sections["exchange.applicationAccessPolicies"].source == "exo:Get-ApplicationAccessPolicy"
    assert all(s.source.startswith(("exo:", "sampled from exo:")) for s in sections.values())
    assert not any(s.item_errors for s in sections.values())

    policies = [ex.parse_policy(p) for p in sections["exchange.applicationAccessPolicies"].data]
    assert len(policies) == 7 and sections["exchange.applicationAccessPolicies"].queried is None
    assert {(p.app_id, p.access_right, p.is_valid) for p in policies if p.is_wildcard} == {("*", "DenyAccess", True)}
    assert sum(not p.is_valid for p in policies) == 2  # a distribution group and a deleted group

    groups = sections["exchange.groups"]
    assert groups.queried == ("cctr_sec_group@contoso.com",)
    parsed = {g.address: g for g in (ex.parse_group(g) for g in groups.data)}
    assert list(parsed) == ["cctr_sec_group@contoso.com", "tier2@contoso.com"]  # the cycle back is cut
    assert [m.address for m in parsed["cctr_sec_group@contoso.com"].members] == [
        "support@contoso.com", "sales@contoso.com", "tier2@contoso.com"]
    assert parsed["tier2@contoso.com"].member_join_restriction == "Open"
    assert set(groups.data[0]["Members"][0]) == {"Name", "PrimarySmtpAddress", "Guid", "ExternalDirectoryObjectId",
                                                "RecipientTypeDetails"}

    recipients = sections["exchange.recipients"]
    scope_guids = [p.scope_guid for p in policies]
    assert list(recipients.queried or ()) == list(dict.fromkeys(
        ["cctr_sec_group@contoso.com", *scope_guids, "Exchange Admin", "admin@contoso.com"]))
    found = {ex.parse_recipient(r).guid for r in recipients.data}
    orphan = next(p.scope_guid for p in policies if p.scope_name == "deleted-group@contoso.com")
    assert orphan not in found and set(scope_guids) - {orphan} <= found  # a deleted scope is simply absent

    canaries = sections["canaries"].data
    pool = [m["PrimarySmtpAddress"] for m in collector_tenant_doc["exchange"]["mailboxes"]]
    in_group = {*QUEUES, "escalations@contoso.com"}
    contact_sampled = _expected_sample(CONTACT, pool, {*in_group, "ceo@contoso.com"}, 2)
    # Scope canaries: the actual scope beyond the queues. Contact Center's policy group holds escalations@
    # through the nested tier2; Ticketing's organisation-wide Mail.Read reaches every mailbox.
    assert canaries[CONTACT] == {"explicit": ["ceo@contoso.com"], "pool_size": 20, "pool_source":
                                 "exo:Get-EXOMailbox -ResultSize Unlimited -PropertySets Minimum"
                                 " -Properties ExchangeGuid,Sid", "sampled": contact_sampled,
                                 "rotation": {"mode": "fixed", "week": None}, "scope": ["escalations@contoso.com"],
                                 "scope_untested": 0, "scope_limit": 200, "scope_error": None}
    ticketing_sampled = _expected_sample(TICKETING, pool, {"support@contoso.com", "hr@contoso.com"}, 2)
    assert canaries[TICKETING]["sampled"] == ticketing_sampled
    ticketing_scope = sorted({a.lower() for a in pool} - {"support@contoso.com", "hr@contoso.com",
                                                          *ticketing_sampled})
    assert canaries[TICKETING]["scope"] == ticketing_scope and canaries[TICKETING]["scope_untested"] == 0
    probed = {CONTACT: [*QUEUES, "ceo@contoso.com", *contact_sampled, "escalations@contoso.com"],
              TICKETING: ["support@contoso.com", "hr@contoso.com", *ticketing_sampled, *ticketing_scope]}
    keys = [f"{app}|{address}" for app, addresses in probed.items() for address in addresses]

    mailboxes = sections["exchange.mailboxes"]
    wanted = list(dict.fromkeys(a for addresses in probed.values() for a in addresses))
    assert sorted(mailboxes.queried or ()) == sorted(wanted)
    by_address = {ex.parse_recipient(m).address: m for m in mailboxes.data}
    assert sorted(by_address) == sorted(wanted)

    tests = sections["exchange.accessTests"]
    assert list(tests.queried or ()) == keys
    results = {f"{t.app_id}|{t.identity}": t for t in (ex.parse_access_test(t) for t in tests.data)}
    assert list(results) == keys
    assert all(t.mailbox_id == by_address[t.identity]["Guid"] for t in results.values())
    granted = {k for k, t in results.items() if t.granted}
    assert granted == {f"{CONTACT}|{q}" for q in (*QUEUES, "escalations@contoso.com")} | {
        k for k in keys if k.startswith(TICKETING)} - {f"{TICKETING}|ceo@contoso.com"}

    authz = sections["exchange.authorizationTests"]
    assert list(authz.queried or ()) == [k for k in keys if k.startswith(TICKETING)]  # the only app with RBAC
    support = ex.parse_authorization_test(authz.data[0])
    assert (support.app_id, support.resource) == (TICKETING, "support@contoso.com")
    assert {(r.role_name, r.in_scope) for r in support.rows} == {
        ("Application Mail.Read", True), ("Application Mail.ReadWrite", True), ("Application Mail.Send", True)}
    hr = ex.parse_authorization_test(authz.data[1])
    assert {(r.role_name, r.in_scope) for r in hr.rows} == {
        ("Application Mail.Read", True), ("Application Mail.ReadWrite", False), ("Application Mail.Send", False)}

    assert [ex.parse_exo_service_principal(s).app_id for s in sections["exchange.servicePrincipals"].data] == [
        TICKETING]
    assert sorted(ex.parse_role_assignment(a).name for a in sections["exchange.roleAssignments"].data) == [
        "ticketing-read-org", "ticketing-rw-support", "ticketing-send-group"]
    assert [s["Name"] for s in sections["exchange.managementScopes"].data] == ["Support queues"]


def test_happy_path_verdicts_with_the_real_checks(happy: Any) -> None:
    sections, _, _ = happy
    base = audit_baseline()
    findings = evaluate(snapshot_with(sections), base).findings
    exchange_checks = ("GRP-", "MBX-001", "SCOPE-")
    got = {(f.integration, f.check_id, f.resource): f.status
           for f in findings if f.check_id.startswith(exchange_checks)}
    contact_sampled = sections["canaries"].data[CONTACT]["sampled"]
    ticketing_sampled = sections["canaries"].data[TICKETING]["sampled"]
    ticketing_scope = sections["canaries"].data[TICKETING]["scope"]
    cc, tk = "Contact Center", "Ticketing"
    expected = {
        (cc, "GRP-001", "cctr_sec_group@contoso.com"): Status.PASS,
        (cc, "GRP-002", "support@contoso.com"): Status.PASS,
        (cc, "GRP-002", "sales@contoso.com"): Status.PASS,
        (cc, "GRP-003", "escalations@contoso.com"): Status.FAIL,  # through the nested group
        (cc, "GRP-003", "tier2@contoso.com"): Status.FAIL,
        (cc, "GRP-004", "cctr_sec_group@contoso.com"): Status.PASS,
        (cc, "MBX-001", "support@contoso.com"): Status.PASS,
        (cc, "MBX-001", "sales@contoso.com"): Status.PASS,
        (cc, "SCOPE-001", CONTACT): Status.PASS,
        (cc, "SCOPE-002", CONTACT): Status.PASS,
        (cc, "SCOPE-003", CONTACT): Status.PASS,  # the wildcard is a DenyAccess: defence in depth
        (cc, "SCOPE-004", "support@contoso.com"): Status.PASS,
        (cc, "SCOPE-004", "sales@contoso.com"): Status.PASS,
        (cc, "SCOPE-005", "ceo@contoso.com"): Status.PASS,
        **{(cc, "SCOPE-005", a): Status.PASS for a in contact_sampled},
        # escalations@ sits in the scope group through tier2 (GRP-003): readable, so critical here too.
        (cc, "SCOPE-005", "escalations@contoso.com"): Status.FAIL,
        (cc, "SCOPE-006", CONTACT): Status.SKIP,
        (cc, "SCOPE-007", CONTACT): Status.FAIL,
        **{(tk, f"GRP-00{i}", TICKETING): Status.SKIP for i in range(1, 5)},
        (tk, "MBX-001", "support@contoso.com"): Status.PASS,
        (tk, "SCOPE-001", TICKETING): Status.FAIL,  # organisation-wide Application Mail.Read
        (tk, "SCOPE-002", TICKETING): Status.SKIP,
        (tk, "SCOPE-003", TICKETING): Status.SKIP,
        (tk, "SCOPE-004", "support@contoso.com"): Status.PASS,
        (tk, "SCOPE-005", "hr@contoso.com"): Status.FAIL,
        **{(tk, "SCOPE-005", a): Status.FAIL for a in [*ticketing_sampled, *ticketing_scope]},
        (tk, "SCOPE-006", f"{TICKETING}/ticketing-read-org"): Status.FAIL,
        (tk, "SCOPE-006", f"{TICKETING}/ticketing-rw-support"): Status.PASS,
        (tk, "SCOPE-006", f"{TICKETING}/ticketing-send-group"): Status.PASS,
        (tk, "SCOPE-007", TICKETING): Status.FAIL,
    }
    assert got == expected
    assert not [f for f in findings if f.status is Status.ERROR]


def test_connects_once_per_pool_and_counts_round_trips(happy: Any) -> None:
    _, facts, delta = happy
    run = facts["exchange"]
    assert delta["psrp:Connect-ExchangeOnline"] == run["pools"] == 2
    assert delta["wsman:Create"] == 2 and delta["wsman:Delete"] == 2
    assert set(k for k in delta if k.startswith("psrp:")) <= ALLOWED_PSRP
    # Every access test of the run shares one pipeline; each authorization test is its own.
    assert run["pipelines_by_cmdlet"]["Test-ApplicationAccessPolicy"] == 1
    ticketing_probes = len(happy[0]["exchange.authorizationTests"].queried or ())
    assert run["pipelines_by_cmdlet"]["Test-ServicePrincipalAuthorization"] == delta[
        "psrp:Test-ServicePrincipalAuthorization"] == ticketing_probes > 4  # queues, canaries, scope canaries
    assert run["round_trips"] == delta["POST /wsman"] == sum(v for k, v in delta.items() if k.startswith("wsman:"))
    assert run["pipelines"] == delta["wsman:Command"] and run["retries"] == run["pools_reopened"] == 0


def test_smaller_batches_cost_more_pipelines(jump_host: Pair, happy: Any) -> None:
    server, _ = jump_host
    sections, facts = collect(server, audit_baseline(), batch_size=2)
    tests = len(happy[0]["exchange.accessTests"].queried or ())
    assert facts["exchange"]["pipelines_by_cmdlet"]["Test-ApplicationAccessPolicy"] == (tests + 1) // 2
    assert sections["exchange.accessTests"].data == happy[0]["exchange.accessTests"].data


def test_missing_mailbox_is_one_item_error(jump_host: Pair) -> None:
    server, _ = jump_host
    base = audit_baseline(contact_canaries=("ceo@contoso.com", "nobody@contoso.com"))
    sections, _ = collect(server, base)
    tests = sections["exchange.accessTests"]
    key = f"{CONTACT}|nobody@contoso.com"
    assert tests.status is SectionStatus.OK and list(tests.item_errors) == [key]
    assert "'nobody@contoso.com' couldn't be found" in tests.item_errors[key]
    assert len(tests.data) == len(tests.queried or ()) - 1
    mailboxes = sections["exchange.mailboxes"]
    assert "nobody@contoso.com" in (mailboxes.queried or ()) and not mailboxes.item_errors
    assert "nobody@contoso.com" not in {m["PrimarySmtpAddress"] for m in mailboxes.data}


def test_metacharacters_travel_as_data(jump_host: Pair) -> None:
    server, _ = jump_host
    nasty = ["'; Remove-Mailbox x; '", "$(Get-Date)@contoso.com", "`whoami`@contoso.com"]
    before = wsman_counts(server)
    sections, _ = collect(server, audit_baseline(contact_canaries=nasty), pools=1)
    delta = {k: v - before.get(k, 0) for k, v in wsman_counts(server).items()}
    errors = sections["exchange.accessTests"].item_errors
    for address in nasty:
        message = errors[f"{CONTACT}|{address.lower()}"]
        assert f"object '{address}' couldn't be found" in message  # unchanged, as a value
    assert {k for k, v in delta.items() if v and k.startswith("psrp:")} <= ALLOWED_PSRP
    assert not any("remove" in k.lower() or "date" in k.lower() for k in delta)


@pytest.mark.parametrize(("listing", "size"), [("plain", 5), ("partitioned", 1)])
def test_truncated_listing_is_an_error_not_a_short_list(jump_host: Pair, listing: str, size: int) -> None:
    server, _ = jump_host

    def small_pages(command: Command) -> Command:  # partitions hold few mailboxes: one page of 1 truncates some
        cut = size if listing == "plain" or command.name == "Get-EXOMailbox" else 5
        params = {k: (cut if v == "Unlimited" else v) for k, v in command.parameters.items()}
        return Command(command.name, params)

    sections, facts = collect(server, audit_baseline(listing=listing),
                              wrap=lambda shell: RewritingShell(shell, small_pages))
    assert sections["canaries"].status is SectionStatus.ERROR
    assert "There are more results available" in (sections["canaries"].error or "")
    assert any("more results available" in w for w in facts["exchange"]["warnings"])
    assert sections["exchange.groups"].status is SectionStatus.OK  # 3 members: under the 5 allowed


def test_dropped_pool_is_reopened_and_the_run_completes(collector_tenant: Tenant, happy: Any) -> None:
    with running(collector_tenant, "jump-host", drop_pool_after=4) as (server, _):
        sections, facts = collect(server, audit_baseline())
        counts = wsman_counts(server)
    assert facts["exchange"]["pools_reopened"] >= 2
    assert counts["wsman:Create"] == 2 + facts["exchange"]["pools_reopened"]
    assert counts["psrp:Connect-ExchangeOnline"] == counts["wsman:Create"]  # every new pool connects once
    for name in EXCHANGE_SECTIONS:
        assert sections[name].status is SectionStatus.OK, (name, sections[name].error)
        assert sections[name].data == happy[0][name].data, name


def test_failing_cmdlet_marks_its_section_only(collector_tenant: Tenant) -> None:
    plan = FaultPlan(psrp_fail=frozenset({"Test-ApplicationAccessPolicy"}))
    with running(collector_tenant, "jump-host", plan) as (server, _):
        sections, facts = collect(server, audit_baseline())
        tried = server.counters.snapshot()["psrp:Test-ApplicationAccessPolicy"]
    tests = sections["exchange.accessTests"]
    assert tests.status is SectionStatus.ERROR
    assert tests.error is not None and "\n" not in tests.error
    assert tests.error.startswith("Test-ApplicationAccessPolicy failed: The server is busy. Please try again later.")
    assert {n for n, s in sections.items() if s.status is not SectionStatus.OK} == {"exchange.accessTests"}
    # 1 batch + 2 single reruns, each tried 4 times (3 retries); then the cmdlet is known to be failing.
    assert facts["exchange"]["retries"] == 9 and tried == 12


def test_a_batch_broken_by_one_item_is_rerun_item_by_item(jump_host: Pair, happy: Any) -> None:
    server, _ = jump_host

    def break_sales(command: Command) -> Command:  # a terminating error for one statement fails its pipeline
        if command.name == "Test-ApplicationAccessPolicy" and command.parameters["Identity"] == "sales@contoso.com":
            return Command(command.name, {"Mailbox": "sales@contoso.com", "AppId": command.parameters["AppId"]})
        return command

    sections, facts = collect(server, audit_baseline(), wrap=lambda shell: RewritingShell(shell, break_sales))
    tests = sections["exchange.accessTests"]
    broken = {f"{CONTACT}|sales@contoso.com", f"{TICKETING}|sales@contoso.com"}  # a queue, a scope canary
    assert tests.status is SectionStatus.OK and tests.item_errors == dict.fromkeys(
        broken, "Test-ApplicationAccessPolicy failed: A parameter cannot be found that matches parameter name "
                "'Mailbox'.")
    assert tests.data == [t for t in happy[0]["exchange.accessTests"].data
                          if f"{t['AppId']}|{t['Identity']}" not in broken]
    assert facts["exchange"]["pipelines_by_cmdlet"]["Test-ApplicationAccessPolicy"] == 1 + len(tests.queried or ())


def test_a_failing_cmdlet_run_alone_per_item_stops_after_three_failures(collector_tenant: Tenant) -> None:
    plan = FaultPlan(psrp_fail=frozenset({"Test-ServicePrincipalAuthorization"}))
    with running(collector_tenant, "jump-host", plan) as (server, _):
        sections, _ = collect(server, audit_baseline(), pools=1)
        tried = server.counters.snapshot()["psrp:Test-ServicePrincipalAuthorization"]
    authz = sections["exchange.authorizationTests"]
    assert authz.status is SectionStatus.ERROR and "The server is busy" in (authz.error or "")
    assert tried == 3 * 4  # three of the four items, each tried four times; the fourth never sent
    assert {n for n, s in sections.items() if s.status is not SectionStatus.OK} == {"exchange.authorizationTests"}
