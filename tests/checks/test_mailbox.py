"""MBX-001 and MBX-002 (docs/checks.md): the queue mailboxes and their Entra accounts.

Addresses are named by the verdict they must get (`pass-...`, `fail-...`, `skip-...`, `error-...`); every test
asserts the exact set of resources with their statuses.
"""

from __future__ import annotations

from typing import Any

import pytest

from auditor.checks import mailbox
from auditor.models.findings import Status
from tests.builders import SnapshotBuilder, baseline, compliant_tenant, integration, run_check

PASS, FAIL, ERROR, SKIP = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP


def results(out: Any) -> dict[str, Status]:
    """by_resource(), after checking that no resource got two findings (per item: one finding per item)."""
    resources = [f.resource for f in out.findings]
    assert len(resources) == len(set(resources)), [(f.resource, f.status, f.message) for f in out.findings]
    return out.by_resource()


def queues(*addresses: str):
    return baseline(integration(mailboxes=addresses))


def mailboxes(*specs: tuple[str, str], user: bool | None = False) -> SnapshotBuilder:
    b = SnapshotBuilder()
    for address, kind in specs:
        b.mailbox(address, kind, user=user)
    return b


# -- MBX-001: every queue mailbox exists and is a shared mailbox ------------------------------------------


def test_mbx001_pass_shared_mailboxes():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"), ("pass-sales@contoso.com", "SharedMailbox"))
    out = run_check(mailbox.queues_are_shared, b, queues("pass-support@contoso.com", "pass-sales@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "pass-sales@contoso.com": PASS}


def test_mbx001_pass_on_the_compliant_tenant():
    out = run_check(mailbox.queues_are_shared, compliant_tenant(), baseline())
    assert results(out) == {"support@contoso.com": PASS, "sales@contoso.com": PASS}


def test_mbx001_fail_missing_mailbox():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"))
    out = run_check(mailbox.queues_are_shared, b, queues("pass-support@contoso.com", "fail-missing@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "fail-missing@contoso.com": FAIL}


@pytest.mark.parametrize("kind", ["UserMailbox", "RoomMailbox", "EquipmentMailbox"])
def test_mbx001_fail_not_a_shared_mailbox(kind):
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"), ("fail-person@contoso.com", kind))
    out = run_check(mailbox.queues_are_shared, b, queues("pass-support@contoso.com", "fail-person@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "fail-person@contoso.com": FAIL}


def test_mbx001_fail_address_of_a_group_not_a_mailbox():
    b = SnapshotBuilder()
    b.group("fail-group@contoso.com", [])
    out = run_check(mailbox.queues_are_shared, b, queues("fail-group@contoso.com"))
    assert results(out) == {"fail-group@contoso.com": FAIL}


def test_mbx001_addresses_matched_case_insensitively_resource_lower_cased():
    b = mailboxes(("Pass-Support@Contoso.com", "SharedMailbox"))
    out = run_check(mailbox.queues_are_shared, b, queues("PASS-SUPPORT@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS}


def test_mbx001_error_mailboxes_section_missing():
    b = mailboxes(("support@contoso.com", "SharedMailbox"))
    b.drop("exchange.mailboxes")
    out = run_check(mailbox.queues_are_shared, b, queues("support@contoso.com"))
    assert results(out) == {"support@contoso.com": ERROR}  # per item: same resource whatever the verdict
    assert "exchange.mailboxes" in out.only().message


def test_mbx001_error_mailboxes_section_failed():
    b = mailboxes(("support@contoso.com", "SharedMailbox"))
    b.fail("exchange.mailboxes", "Get-Mailbox failed")
    out = run_check(mailbox.queues_are_shared, b, queues("support@contoso.com"))
    assert results(out) == {"support@contoso.com": ERROR}  # per item: same resource whatever the verdict
    assert "exchange.mailboxes" in out.only().message


def test_mbx001_error_only_for_the_mailbox_never_asked_for():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"), ("error-sales@contoso.com", "SharedMailbox"))
    b.queried("exchange.mailboxes", ["pass-support@contoso.com"])
    out = run_check(mailbox.queues_are_shared, b, queues("pass-support@contoso.com", "error-sales@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "error-sales@contoso.com": ERROR}


def test_mbx001_error_for_a_mailbox_whose_lookup_failed():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"))
    b.item_error("exchange.mailboxes", "error-sales@contoso.com", "Get-Mailbox: the operation timed out")
    out = run_check(mailbox.queues_are_shared, b, queues("pass-support@contoso.com", "error-sales@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "error-sales@contoso.com": ERROR}


def test_mbx001_error_mailbox_type_missing_in_data():
    b = mailboxes(("error-support@contoso.com", "SharedMailbox"))
    del b.data("exchange.mailboxes")[0]["RecipientTypeDetails"]
    out = run_check(mailbox.queues_are_shared, b, queues("error-support@contoso.com"))
    assert results(out) == {"error-support@contoso.com": ERROR}


def test_mbx001_skip_when_exchange_transport_is_none():
    b = mailboxes(("support@contoso.com", "SharedMailbox"))
    b.collection["exchange_transport"] = "none"
    b.drop("exchange.mailboxes")
    out = run_check(mailbox.queues_are_shared, b, queues("support@contoso.com"))
    assert results(out) == {"support@contoso.com": SKIP}


# -- MBX-002: sign-in is blocked for every queue mailbox's account ----------------------------------------


def test_mbx002_pass_sign_in_blocked():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"), ("pass-sales@contoso.com", "SharedMailbox"))
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("pass-support@contoso.com", "pass-sales@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "pass-sales@contoso.com": PASS}


def test_mbx002_pass_on_the_compliant_tenant():
    out = run_check(mailbox.queue_sign_in_blocked, compliant_tenant(), baseline())
    assert results(out) == {"support@contoso.com": PASS, "sales@contoso.com": PASS}


def test_mbx002_fail_account_enabled():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"))
    b.mailbox("fail-sales@contoso.com", "SharedMailbox", user=True)
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("pass-support@contoso.com", "fail-sales@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "fail-sales@contoso.com": FAIL}


def test_mbx002_judges_a_user_mailbox_queue_too():
    # MBX-001 fails a UserMailbox queue; it exists, so MBX-002 still judges its account
    b = SnapshotBuilder()
    b.mailbox("fail-person@contoso.com", "UserMailbox", user=True)
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("fail-person@contoso.com"))
    assert results(out) == {"fail-person@contoso.com": FAIL}


def test_mbx002_skip_missing_mailbox():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"))
    b.user("skip-missing@contoso.com", enabled=True)  # an enabled account, but MBX-001 finds no mailbox
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("pass-support@contoso.com", "skip-missing@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "skip-missing@contoso.com": SKIP}


def test_mbx002_error_existing_mailbox_without_entra_user():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"))
    b.mailbox("error-orphan@contoso.com", "SharedMailbox", user=None)
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("pass-support@contoso.com", "error-orphan@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "error-orphan@contoso.com": ERROR}


def test_mbx002_user_matched_by_user_principal_name_when_mail_differs():
    b = SnapshotBuilder()
    b.mailbox("fail-upn@contoso.com", "SharedMailbox", user=None)
    b.mailbox("pass-upn@contoso.com", "SharedMailbox", user=None)
    b.data("graph.users").extend([
        {"id": "0f000000-0000-4000-8000-000000000001", "userPrincipalName": "fail-upn@contoso.com",
         "mail": "fail-upn-alias@contoso.com", "accountEnabled": True, "userType": "Member"},
        {"id": "0f000000-0000-4000-8000-000000000002", "userPrincipalName": "pass-upn@contoso.com",
         "mail": "pass-upn-alias@contoso.com", "accountEnabled": False, "userType": "Member"}])
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("fail-upn@contoso.com", "pass-upn@contoso.com"))
    assert results(out) == {"fail-upn@contoso.com": FAIL, "pass-upn@contoso.com": PASS}


def test_mbx002_user_matched_by_user_principal_name_when_mail_is_null():
    b = SnapshotBuilder()
    b.mailbox("fail-nomail@contoso.com", "SharedMailbox", user=None)
    b.data("graph.users").append(
        {"id": "0f000000-0000-4000-8000-000000000003", "userPrincipalName": "fail-nomail@contoso.com",
         "mail": None, "accountEnabled": True, "userType": "Member"})
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("fail-nomail@contoso.com"))
    assert results(out) == {"fail-nomail@contoso.com": FAIL}


def test_mbx002_user_matched_by_mail_when_user_principal_name_differs():
    b = SnapshotBuilder()
    b.mailbox("fail-mail@contoso.com", "SharedMailbox", user=None)
    b.data("graph.users").append(
        {"id": "0f000000-0000-4000-8000-000000000004", "userPrincipalName": "queue123@contoso.onmicrosoft.com",
         "mail": "fail-mail@contoso.com", "accountEnabled": True, "userType": "Member"})
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("fail-mail@contoso.com"))
    assert results(out) == {"fail-mail@contoso.com": FAIL}


def test_mbx002_user_matched_case_insensitively():
    b = SnapshotBuilder()
    b.mailbox("fail-case@contoso.com", "SharedMailbox", user=None)
    b.data("graph.users").append(
        {"id": "0f000000-0000-4000-8000-000000000005", "userPrincipalName": "Fail-Case@Contoso.com",
         "mail": "FAIL-CASE@contoso.com", "accountEnabled": True, "userType": "Member"})
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("Fail-Case@contoso.com"))
    assert results(out) == {"fail-case@contoso.com": FAIL}


def test_mbx002_another_users_enabled_account_does_not_count():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"))
    b.user("pass-support-admin@contoso.com", enabled=True)
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("pass-support@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS}


def test_mbx002_error_users_section_missing():
    b = mailboxes(("support@contoso.com", "SharedMailbox"))
    b.drop("graph.users")
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("support@contoso.com"))
    assert results(out) == {"support@contoso.com": ERROR}  # per item: same resource whatever the verdict
    assert "graph.users" in out.only().message


def test_mbx002_users_section_missing_errors_existing_mailboxes_and_skips_missing_ones():
    b = mailboxes(("error-support@contoso.com", "SharedMailbox"))
    b.drop("graph.users")
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("error-support@contoso.com", "skip-missing@contoso.com"))
    assert results(out) == {"error-support@contoso.com": ERROR, "skip-missing@contoso.com": SKIP}


def test_mbx002_error_users_section_failed():
    b = mailboxes(("support@contoso.com", "SharedMailbox"))
    b.fail("graph.users", "HTTP 403 Authorization_RequestDenied")
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("support@contoso.com"))
    assert results(out) == {"support@contoso.com": ERROR}  # per item: same resource whatever the verdict
    assert "graph.users" in out.only().message


def test_mbx002_error_mailboxes_section_failed():
    b = mailboxes(("support@contoso.com", "SharedMailbox"))
    b.fail("exchange.mailboxes")
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("support@contoso.com"))
    assert results(out) == {"support@contoso.com": ERROR}  # per item: same resource whatever the verdict
    assert "exchange.mailboxes" in out.only().message


def test_mbx002_error_only_for_the_user_never_asked_for():
    b = mailboxes(("pass-support@contoso.com", "SharedMailbox"), ("error-sales@contoso.com", "SharedMailbox"))
    b.queried("graph.users", ["pass-support@contoso.com"])
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("pass-support@contoso.com", "error-sales@contoso.com"))
    assert results(out) == {"pass-support@contoso.com": PASS, "error-sales@contoso.com": ERROR}


def test_mbx002_error_account_enabled_missing_in_data():
    b = mailboxes(("error-support@contoso.com", "SharedMailbox"))
    del b.data("graph.users")[0]["accountEnabled"]
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("error-support@contoso.com"))
    assert results(out) == {"error-support@contoso.com": ERROR}


def test_mbx002_error_account_enabled_null_in_data():
    b = mailboxes(("error-support@contoso.com", "SharedMailbox"))
    b.data("graph.users")[0]["accountEnabled"] = None
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("error-support@contoso.com"))
    assert results(out) == {"error-support@contoso.com": ERROR}


def test_mbx002_skip_when_exchange_transport_is_none():
    b = mailboxes(("support@contoso.com", "SharedMailbox"))
    b.collection["exchange_transport"] = "none"
    b.drop("exchange.mailboxes")
    out = run_check(mailbox.queue_sign_in_blocked, b, queues("support@contoso.com"))
    assert results(out) == {"support@contoso.com": SKIP}
