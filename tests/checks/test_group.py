"""GRP-001 to GRP-004 (docs/checks.md): the mail-enabled security group an access policy scopes the app to.

Addresses are named by the verdict they must get (`pass-...`, `fail-...`); every test asserts the exact set of
resources with their statuses.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from auditor.checks import group
from auditor.models.findings import Status
from tests.builders import APP, SnapshotBuilder, baseline, compliant_tenant, integration, run_check

PASS, FAIL, ERROR, SKIP = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP

GROUP = "cctr_sec_group@contoso.com"
Q1, Q2 = "pass-support@contoso.com", "pass-sales@contoso.com"
ALL_GRP = (group.group_is_security_group, group.queues_in_group, group.group_has_only_queues, group.group_managed)


# -- helpers -------------------------------------------------------------------------------------------


def results(out: Any) -> dict[str, Status]:
    """by_resource(), after checking that no resource got two findings (per item: one finding per item)."""
    resources = [f.resource for f in out.findings]
    assert len(resources) == len(set(resources)), [(f.resource, f.status, f.message) for f in out.findings]
    return out.by_resource()


def base(**overrides: Any):
    values: dict[str, Any] = dict(scope_group=GROUP, mailboxes=(Q1, Q2))
    values.update(overrides)
    return baseline(integration(**values))


def snap(members: list[str] | None = None, **group_kwargs: Any) -> SnapshotBuilder:
    """A snapshot holding only the scope group (GRP checks read exchange.groups and exchange.recipients)."""
    b = SnapshotBuilder()
    b.group(GROUP, [Q1, Q2] if members is None else members, **group_kwargs)
    return b


def drop_group(b: SnapshotBuilder, address: str) -> None:
    for name in ("exchange.groups", "exchange.recipients"):
        b.data(name)[:] = [r for r in b.data(name) if r["PrimarySmtpAddress"].lower() != address.lower()]


@contextmanager
def deadline(seconds: int = 5) -> Iterator[None]:
    """Fail (instead of hanging the suite) when a group cycle is followed forever."""
    def boom(*_: Any) -> None:
        raise TimeoutError("the check did not finish: a group cycle was followed forever")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# -- GRP-001: the scope group exists and is a mail-enabled security group ---------------------------------


def test_grp001_pass_mail_enabled_security_group():
    out = run_check(group.group_is_security_group, snap(), base())
    assert results(out) == {GROUP: PASS}


def test_grp001_pass_on_the_compliant_tenant():
    out = run_check(group.group_is_security_group, compliant_tenant(), baseline())
    assert results(out) == {GROUP: PASS}


def test_grp001_resource_is_the_lower_cased_group_address():
    out = run_check(group.group_is_security_group, snap(), base(scope_group="CCTR_Sec_Group@Contoso.com"))
    assert results(out) == {GROUP: PASS}


def test_grp001_fail_group_missing():
    b = SnapshotBuilder()
    b.group("other_group@contoso.com", [Q1, Q2])
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: FAIL}


def test_grp001_fail_address_belongs_to_a_mailbox_not_a_group():
    b = SnapshotBuilder()
    b.mailbox(GROUP, "SharedMailbox")
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: FAIL}


@pytest.mark.parametrize("kind", ["MailUniversalDistributionGroup", "MailNonUniversalGroup", "RoomList"])
def test_grp001_fail_wrong_group_type(kind):
    out = run_check(group.group_is_security_group, snap(kind=kind), base())
    assert results(out) == {GROUP: FAIL}
    assert kind in out.only().message


def test_grp001_error_groups_section_missing():
    b = snap()
    b.drop("exchange.groups")
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: ERROR}
    assert "exchange.groups" in out.only().message


def test_grp001_error_groups_section_failed():
    b = snap()
    b.fail("exchange.groups", "Get-DistributionGroup timed out")
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: ERROR}
    assert "exchange.groups" in out.only().message


def test_grp001_error_group_never_asked_for():
    b = snap()
    b.queried("exchange.groups", ["some_other_group@contoso.com"])
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: ERROR}


def test_grp001_error_group_type_missing_in_data():
    b = snap()
    del b.data("exchange.groups")[0]["RecipientTypeDetails"]
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: ERROR}


def test_grp001_skip_when_exchange_transport_is_none():
    b = snap()
    b.collection["exchange_transport"] = "none"
    b.drop("exchange.groups")
    b.drop("exchange.recipients")
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: SKIP}


def test_grp_rbac_integration_without_scope_group_skips_every_grp_check():
    bl = base(access_model="rbac", scope_group="")
    for spec in ALL_GRP:
        out = run_check(spec, snap(), bl)
        assert results(out) == {APP: SKIP}, spec.id


def test_grp_rbac_integration_with_scope_group_runs_every_grp_check():
    b = snap(members=[Q1, "fail-ceo@contoso.com"], join="Open")
    bl = base(access_model="rbac", mailboxes=(Q1, "fail-sales@contoso.com"))
    assert results(run_check(group.group_is_security_group, b, bl)) == {GROUP: PASS}
    assert results(run_check(group.queues_in_group, b, bl)) == {Q1: PASS, "fail-sales@contoso.com": FAIL}
    assert results(run_check(group.group_has_only_queues, b, bl)) == {"fail-ceo@contoso.com": FAIL}
    assert results(run_check(group.group_managed, b, bl)) == {GROUP: FAIL}


def test_grp_missing_group_skips_grp002_to_grp004_with_the_group_address():
    b = SnapshotBuilder()
    out = run_check(group.group_is_security_group, b, base())
    assert results(out) == {GROUP: FAIL}
    for spec in ALL_GRP[1:]:
        out = run_check(spec, b, base(group_managers=("pass-admin@contoso.com",)))
        assert results(out) == {GROUP: SKIP}, spec.id


def test_grp_wrong_type_group_still_runs_grp002_to_grp004():
    b = snap(members=[Q1, "fail-ceo@contoso.com"], kind="MailUniversalDistributionGroup", join="Open")
    bl = base(mailboxes=(Q1, "fail-sales@contoso.com"))
    assert results(run_check(group.group_is_security_group, b, bl)) == {GROUP: FAIL}
    assert results(run_check(group.queues_in_group, b, bl)) == {Q1: PASS, "fail-sales@contoso.com": FAIL}
    assert results(run_check(group.group_has_only_queues, b, bl)) == {"fail-ceo@contoso.com": FAIL}
    assert results(run_check(group.group_managed, b, bl)) == {GROUP: FAIL}


# -- GRP-002: every queue mailbox is in the scope group ---------------------------------------------------


def test_grp002_pass_every_queue_a_direct_member():
    out = run_check(group.queues_in_group, snap(), base())
    assert results(out) == {Q1: PASS, Q2: PASS}


def test_grp002_fail_queue_not_a_member():
    out = run_check(group.queues_in_group, snap(members=[Q1]), base(mailboxes=(Q1, "fail-sales@contoso.com")))
    assert results(out) == {Q1: PASS, "fail-sales@contoso.com": FAIL}


def test_grp002_fail_every_queue_of_an_empty_group():
    out = run_check(group.queues_in_group, snap(members=[]),
                    base(mailboxes=("fail-support@contoso.com", "fail-sales@contoso.com")))
    assert results(out) == {"fail-support@contoso.com": FAIL, "fail-sales@contoso.com": FAIL}


def test_grp002_addresses_compared_case_insensitively():
    b = snap(members=["Pass-Support@Contoso.com", Q2])
    out = run_check(group.queues_in_group, b, base(mailboxes=("PASS-SUPPORT@contoso.com", Q2)))
    assert results(out) == {Q1: PASS, Q2: PASS}


def test_grp002_pass_through_nested_group():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["inner@contoso.com"])
    b.group("inner@contoso.com", [Q2])
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {Q1: PASS, Q2: PASS}


def test_grp002_pass_through_two_levels_of_nesting():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["level1@contoso.com"])
    b.group("level1@contoso.com", [], nested=["level2@contoso.com"])
    b.group("level2@contoso.com", [Q2])
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {Q1: PASS, Q2: PASS}


def test_grp002_cycle_between_groups_terminates():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["loop@contoso.com"])
    b.group("loop@contoso.com", [Q2], nested=[GROUP])
    with deadline():
        out = run_check(group.queues_in_group, b, base(mailboxes=(Q1, Q2, "fail-billing@contoso.com")))
    assert results(out) == {Q1: PASS, Q2: PASS, "fail-billing@contoso.com": FAIL}


def test_grp002_cycle_among_nested_groups_terminates():
    b = SnapshotBuilder()
    b.group(GROUP, [], nested=["a@contoso.com"])
    b.group("a@contoso.com", [Q1], nested=["b@contoso.com"])
    b.group("b@contoso.com", [Q2], nested=["a@contoso.com"])
    with deadline():
        out = run_check(group.queues_in_group, b, base())
    assert results(out) == {Q1: PASS, Q2: PASS}


def test_grp002_membership_of_a_different_group_does_not_count():
    b = snap(members=[Q1])
    b.group("other_group@contoso.com", ["fail-sales@contoso.com"])
    out = run_check(group.queues_in_group, b, base(mailboxes=(Q1, "fail-sales@contoso.com")))
    assert results(out) == {Q1: PASS, "fail-sales@contoso.com": FAIL}


def test_grp002_skip_with_group_address_when_group_missing():
    out = run_check(group.queues_in_group, SnapshotBuilder(), base())
    assert results(out) == {GROUP: SKIP}


def test_grp002_error_groups_section_missing():
    b = snap()
    b.drop("exchange.groups")
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {APP: ERROR}
    assert "exchange.groups" in out.only().message


def test_grp002_error_groups_section_failed():
    b = snap()
    b.fail("exchange.groups")
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {APP: ERROR}
    assert "exchange.groups" in out.only().message


def test_grp002_error_group_never_asked_for():
    b = snap()
    b.queried("exchange.groups", ["other_group@contoso.com"])
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {APP: ERROR}


def test_grp002_error_member_address_missing_in_data():
    b = snap()
    del b.data("exchange.groups")[0]["Members"][1]["PrimarySmtpAddress"]
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {APP: ERROR}


def test_grp002_error_members_list_missing():
    b = snap()
    del b.data("exchange.groups")[0]["Members"]
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {APP: ERROR}


def test_grp002_error_nested_group_members_not_collected():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["uncollected@contoso.com"])  # the nested group's own entry is absent
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {APP: ERROR}


def test_grp002_skip_when_exchange_transport_is_none():
    b = snap()
    b.collection["exchange_transport"] = "none"
    b.drop("exchange.groups")
    out = run_check(group.queues_in_group, b, base())
    assert results(out) == {APP: SKIP}


# -- GRP-003: the scope group holds nothing beyond the queue mailboxes ------------------------------------


def test_grp003_pass_only_queue_mailboxes():
    out = run_check(group.group_has_only_queues, snap(), base())
    assert results(out) == {GROUP: PASS}


def test_grp003_pass_on_the_compliant_tenant():
    out = run_check(group.group_has_only_queues, compliant_tenant(), baseline())
    assert results(out) == {GROUP: PASS}


def test_grp003_pass_empty_group():
    out = run_check(group.group_has_only_queues, snap(members=[]), base())
    assert results(out) == {GROUP: PASS}


def test_grp003_pass_when_a_queue_is_missing_from_the_group():
    # a missing queue is GRP-002's business; GRP-003 only judges what is in the group
    out = run_check(group.group_has_only_queues, snap(members=[Q1]), base())
    assert results(out) == {GROUP: PASS}


def test_grp003_fail_extra_member_queues_get_no_finding():
    b = snap(members=[Q1, Q2, "fail-ceo@contoso.com"], member_kinds={"fail-ceo@contoso.com": "UserMailbox"})
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {"fail-ceo@contoso.com": FAIL}


def test_grp003_fail_each_extra_member():
    b = snap(members=[Q1, "fail-ceo@contoso.com", "fail-cfo@contoso.com", "fail-room@contoso.com"],
             member_kinds={"fail-room@contoso.com": "RoomMailbox"})
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {"fail-ceo@contoso.com": FAIL, "fail-cfo@contoso.com": FAIL,
                            "fail-room@contoso.com": FAIL}


def test_grp003_extra_member_address_lower_cased():
    b = snap(members=[Q1, "Fail-CEO@Contoso.com"])
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {"fail-ceo@contoso.com": FAIL}


def test_grp003_queue_matched_case_insensitively():
    out = run_check(group.group_has_only_queues, snap(members=["PASS-Support@contoso.com"]),
                    base(mailboxes=(Q1.upper(),)))
    assert results(out) == {GROUP: PASS}


def test_grp003_fail_nested_group_holding_only_queues():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["fail-nested@contoso.com"])
    b.group("fail-nested@contoso.com", [Q2])
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {"fail-nested@contoso.com": FAIL}


def test_grp003_fail_nested_group_and_each_non_queue_member_reached_through_it():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["fail-nested@contoso.com"])
    b.group("fail-nested@contoso.com", [Q2, "fail-ceo@contoso.com"],
            nested=["fail-deeper@contoso.com"], member_kinds={"fail-ceo@contoso.com": "UserMailbox"})
    b.group("fail-deeper@contoso.com", ["fail-cfo@contoso.com"])
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {"fail-nested@contoso.com": FAIL, "fail-ceo@contoso.com": FAIL,
                            "fail-deeper@contoso.com": FAIL, "fail-cfo@contoso.com": FAIL}


def test_grp003_member_reached_twice_fails_once():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1, "fail-ceo@contoso.com"], nested=["fail-nested@contoso.com"])
    b.group("fail-nested@contoso.com", ["fail-ceo@contoso.com"])
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {"fail-ceo@contoso.com": FAIL, "fail-nested@contoso.com": FAIL}


def test_grp003_cycle_back_to_the_scope_group_terminates():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["fail-loop@contoso.com"])
    b.group("fail-loop@contoso.com", [Q2, "fail-ceo@contoso.com"], nested=[GROUP])
    with deadline():
        out = run_check(group.group_has_only_queues, b, base())
    # the scope group itself (reached again through the cycle) is not reported as nested in itself
    assert results(out) == {"fail-loop@contoso.com": FAIL, "fail-ceo@contoso.com": FAIL}


def test_grp003_cycle_among_nested_groups_terminates():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1, Q2], nested=["fail-a@contoso.com"])
    b.group("fail-a@contoso.com", [], nested=["fail-b@contoso.com"])
    b.group("fail-b@contoso.com", ["fail-ceo@contoso.com"], nested=["fail-a@contoso.com"])
    with deadline():
        out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {"fail-a@contoso.com": FAIL, "fail-b@contoso.com": FAIL, "fail-ceo@contoso.com": FAIL}


def test_grp003_skip_with_group_address_when_group_missing():
    out = run_check(group.group_has_only_queues, SnapshotBuilder(), base())
    assert results(out) == {GROUP: SKIP}


def test_grp003_error_groups_section_missing():
    b = snap()
    b.drop("exchange.groups")
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {APP: ERROR}
    assert "exchange.groups" in out.only().message


def test_grp003_error_groups_section_failed():
    b = snap()
    b.fail("exchange.groups")
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {APP: ERROR}


def test_grp003_error_group_never_asked_for():
    b = snap()
    b.queried("exchange.groups", ["other_group@contoso.com"])
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {APP: ERROR}


def test_grp003_error_member_type_missing_in_data():
    b = snap(members=[Q1, "ceo@contoso.com"])
    del b.data("exchange.groups")[0]["Members"][1]["RecipientTypeDetails"]
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {APP: ERROR}


def test_grp003_error_nested_group_members_not_collected():
    b = SnapshotBuilder()
    b.group(GROUP, [Q1], nested=["uncollected@contoso.com"])
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {APP: ERROR}


def test_grp003_skip_when_exchange_transport_is_none():
    b = snap()
    b.collection["exchange_transport"] = "none"
    b.fail("exchange.groups", "not collected")
    out = run_check(group.group_has_only_queues, b, base())
    assert results(out) == {APP: SKIP}


# -- GRP-004: only approved managers can change the scope group -------------------------------------------

ADMIN = "pass-admin@contoso.com"


def with_manager_recipient(b: SnapshotBuilder, address: str, name: str) -> SnapshotBuilder:
    b.data("exchange.recipients").append(b.recipient(address, "UserMailbox", name=name))
    return b


def test_grp004_pass_closed_without_group_managers():
    out = run_check(group.group_managed, snap(managed_by=["anyone@contoso.com"]), base())
    assert results(out) == {GROUP: PASS}


def test_grp004_pass_on_the_compliant_tenant():
    out = run_check(group.group_managed, compliant_tenant(), baseline())
    assert results(out) == {GROUP: PASS}


@pytest.mark.parametrize("join", ["Open", "ApprovalRequired"])
def test_grp004_fail_join_restriction_not_closed(join):
    out = run_check(group.group_managed, snap(join=join), base())
    assert results(out) == {GROUP: FAIL}
    assert join in out.only().message


@pytest.mark.parametrize("join", ["Open", "ApprovalRequired"])
def test_grp004_fail_join_restriction_not_closed_even_with_approved_managers(join):
    b = with_manager_recipient(snap(join=join, managed_by=[ADMIN]), ADMIN, "Pass Admin")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: FAIL}


def test_grp004_pass_manager_address_approved():
    b = with_manager_recipient(snap(managed_by=[ADMIN]), ADMIN, "Pass Admin")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: PASS}


def test_grp004_pass_manager_address_approved_case_insensitively():
    b = with_manager_recipient(snap(managed_by=["Pass-Admin@Contoso.com"]), ADMIN, "Pass Admin")
    out = run_check(group.group_managed, b, base(group_managers=("PASS-ADMIN@contoso.com",)))
    assert results(out) == {GROUP: PASS}


def test_grp004_pass_no_managers_with_group_managers_given():
    out = run_check(group.group_managed, snap(managed_by=[]), base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: PASS}


def test_grp004_fail_unapproved_manager_address():
    b = with_manager_recipient(snap(managed_by=[ADMIN, "fail-intern@contoso.com"]), ADMIN, "Pass Admin")
    with_manager_recipient(b, "fail-intern@contoso.com", "Fail Intern")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: FAIL}
    assert "fail-intern@contoso.com" in out.only().message


def test_grp004_fail_any_manager_when_approved_list_is_empty():
    b = with_manager_recipient(snap(managed_by=[ADMIN]), ADMIN, "Pass Admin")
    out = run_check(group.group_managed, b, base(group_managers=()))
    assert results(out) == {GROUP: FAIL}


def test_grp004_pass_manager_name_resolved_to_an_approved_address():
    b = with_manager_recipient(snap(managed_by=["Exchange Admin"]), ADMIN, "Exchange Admin")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: PASS}


def test_grp004_fail_manager_name_resolved_to_an_unapproved_address():
    b = with_manager_recipient(snap(managed_by=["Mallory"]), "fail-mallory@contoso.com", "Mallory")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: FAIL}


def test_grp004_pass_unresolvable_manager_compared_by_name():
    b = snap(managed_by=["Legacy Admin"])
    b.queried("exchange.recipients", [GROUP, "Legacy Admin"])  # asked for, Get-Recipient found nothing
    out = run_check(group.group_managed, b, base(group_managers=("Legacy Admin",)))
    assert results(out) == {GROUP: PASS}


def test_grp004_fail_unresolvable_manager_not_approved_by_name():
    b = snap(managed_by=["Unknown Person"])
    b.queried("exchange.recipients", [GROUP, "Unknown Person"])
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: FAIL}


def test_grp004_join_restriction_and_managers_fail_as_one_finding():
    b = with_manager_recipient(snap(join="Open", managed_by=["Mallory"]), "fail-mallory@contoso.com", "Mallory")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: FAIL}
    assert "Open" in out.only().message and "Mallory" in out.only().message


def test_grp004_skip_with_group_address_when_group_missing():
    out = run_check(group.group_managed, SnapshotBuilder(), base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: SKIP}


def test_grp004_error_groups_section_missing():
    b = snap()
    b.drop("exchange.groups")
    out = run_check(group.group_managed, b, base())
    assert results(out) == {GROUP: ERROR}
    assert "exchange.groups" in out.only().message


def test_grp004_error_groups_section_failed():
    b = snap()
    b.fail("exchange.groups")
    out = run_check(group.group_managed, b, base())
    assert results(out) == {GROUP: ERROR}


def test_grp004_error_group_never_asked_for():
    b = snap()
    b.queried("exchange.groups", ["other_group@contoso.com"])
    out = run_check(group.group_managed, b, base())
    assert results(out) == {GROUP: ERROR}


def test_grp004_error_join_restriction_missing_in_data():
    b = snap()
    del b.data("exchange.groups")[0]["MemberJoinRestriction"]
    out = run_check(group.group_managed, b, base())
    assert results(out) == {GROUP: ERROR}


def test_grp004_error_managed_by_missing_in_data():
    b = snap()
    del b.data("exchange.groups")[0]["ManagedBy"]
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: ERROR}


def test_grp004_error_recipients_section_failed_when_managers_must_be_resolved():
    b = snap(managed_by=["Exchange Admin"])
    b.fail("exchange.recipients", "Get-Recipient failed")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: ERROR}
    assert "exchange.recipients" in out.only().message


def test_grp004_error_manager_never_asked_of_get_recipient():
    b = with_manager_recipient(snap(managed_by=["Exchange Admin"]), ADMIN, "Exchange Admin")
    b.queried("exchange.recipients", [GROUP])  # the manager name was never resolved
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: ERROR}


def test_grp004_skip_when_exchange_transport_is_none():
    b = snap()
    b.collection["exchange_transport"] = "none"
    b.drop("exchange.groups")
    b.drop("exchange.recipients")
    out = run_check(group.group_managed, b, base(group_managers=(ADMIN,)))
    assert results(out) == {GROUP: SKIP}
