"""SCOPE-001 to SCOPE-006, derived from the catalog (docs/checks.md) and the access-policy and RBAC for
Applications semantics in docs/microsoft-facts.md.

Names say the verdict they must get: mailbox/canary addresses and assignment names start with `pass-`, `fail-`,
`skip-` or `error-`. App-level checks (SCOPE-001 to -003) name the app id as resource.
"""

from __future__ import annotations

from typing import Any

import pytest

from auditor.checks import scope
from auditor.models.findings import Status
from auditor.models.snapshot import SECTION_NAMES
from tests.builders import (
    APP,
    MICROSOFT_TENANT,
    OTHER_APP,
    SnapshotBuilder,
    baseline,
    compliant_tenant,
    integration,
    run_check,
    sp_id,
)

PASS, FAIL, ERROR, SKIP = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP
GROUP = "cctr_sec_group@contoso.com"
VENDOR_TENANT = "99999999-8888-7777-6666-555555555555"
EXCHANGE_SECTIONS = tuple(name for name in SECTION_NAMES if name.startswith("exchange."))


# -- helpers ----------------------------------------------------------------------------------------

def rbac_base(**overrides: Any):
    """An `rbac` integration: no scope group, no Entra mailbox grant expected."""
    return baseline(integration(access_model="rbac", scope_group="", **overrides))


def bare_tenant(**app_kwargs: Any) -> SnapshotBuilder:
    """The app (Mail.ReadWrite + Mail.Send granted unless told otherwise), its queues and canary; no policy."""
    b = SnapshotBuilder()
    b.app(APP, **app_kwargs)
    for address in ("support@contoso.com", "sales@contoso.com"):
        b.mailbox(address)
    b.mailbox("ceo@contoso.com", "UserMailbox", user=True)
    b.group(GROUP, ["support@contoso.com", "sales@contoso.com"])
    return b


def rbac_tenant() -> SnapshotBuilder:
    """RBAC for Applications done right: no Entra grant, scoped assignments of the two baseline roles."""
    b = bare_tenant(requested=(), granted=())
    b.role_assignment(APP, "cc-readwrite", "Application Mail.ReadWrite", custom_scope="CC queues")
    b.role_assignment(APP, "cc-send", "Application Mail.Send", custom_scope="CC queues")
    return b


def policies(b: SnapshotBuilder) -> list[dict[str, Any]]:
    return b.data("exchange.applicationAccessPolicies")


def switch_exchange_off(b: SnapshotBuilder) -> None:
    b.collection["exchange_transport"] = "none"
    for name in EXCHANGE_SECTIONS:
        b.fail(name, "not collected: transport none")


def assert_messages_name(out, section: str) -> None:
    assert all(section in f.message for f in out.findings), [f.message for f in out.findings]


# == SCOPE-001: The app's mailbox access is restricted ===============================================

class TestScope001:
    spec = scope.access_restricted

    def test_own_valid_restrict_policy_passes(self):
        out = run_check(self.spec, compliant_tenant())
        assert out.by_resource() == {APP: PASS}

    def test_entra_mailbox_grant_without_any_policy_fails(self):
        out = run_check(self.spec, bare_tenant())
        assert out.by_resource() == {APP: FAIL}
        assert "Mail.ReadWrite" in out.only().message

    @pytest.mark.parametrize("perm", ["Mail.Read", "Mail.ReadBasic", "MailboxSettings.Read", "Calendars.Read",
                                      "Contacts.Read", "Exchange:full_access_as_app", "Exchange:Mail.Read"])
    def test_every_mailbox_data_permission_without_policy_fails(self, perm):
        out = run_check(self.spec, bare_tenant(requested=(perm,)))
        assert out.by_resource() == {APP: FAIL}

    def test_finding_carries_evidence_and_provenance(self):
        f = run_check(self.spec, bare_tenant()).only()
        assert f.evidence["entra_mailbox_permissions"] == ["Mail.ReadWrite", "Mail.Send"]
        assert any(p.startswith("exchange.applicationAccessPolicies") for p in f.provenance)
        assert any(p.startswith("graph.appRoleAssignments") for p in f.provenance)

    def test_wildcard_restrict_policy_covers_the_app(self):
        b = bare_tenant()
        b.policy("*", GROUP)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_own_deny_access_alone_does_not_restrict(self):
        b = bare_tenant()
        b.policy(APP, GROUP, right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_wildcard_deny_access_alone_does_not_restrict(self):
        b = bare_tenant()
        b.policy("*", "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_own_invalid_restrict_policy_restricts_nothing(self):
        b = bare_tenant()
        b.policy(APP, GROUP, valid=False)
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_invalid_wildcard_restrict_policy_restricts_nothing(self):
        b = bare_tenant()
        b.policy("*", GROUP, valid=False)
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_one_valid_policy_restricts_even_beside_an_invalid_one(self):
        b = bare_tenant()
        b.policy(APP, "gone@contoso.com", valid=False)
        b.policy(APP, GROUP)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_another_apps_restrict_policy_does_not_cover(self):
        b = bare_tenant()
        b.policy(OTHER_APP, GROUP)
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_policy_app_id_compared_case_insensitively(self):
        b = bare_tenant()
        b.policy(APP.upper(), GROUP)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_organisation_wide_rbac_mailbox_role_fails_even_with_restricted_entra_grant(self):
        b = compliant_tenant()
        b.role_assignment(APP, "wide", "Application Mail.Read")
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: FAIL}
        assert "Application Mail.Read" in out.only().message

    @pytest.mark.parametrize("role", ["Application Mail Full Access", "Application Exchange Full Access",
                                      "Application Calendars.ReadWrite", "Application EWS.AccessAsApp",
                                      "Application MailboxItem.Read"])
    def test_organisation_wide_rbac_mailbox_role_alone_fails(self, role):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "wide", role)
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: FAIL}

    def test_scoped_rbac_does_not_narrow_an_unrestricted_entra_grant(self):
        b = bare_tenant()  # Entra Mail.ReadWrite + Mail.Send, no policy
        b.role_assignment(APP, "cc-readwrite", "Application Mail.ReadWrite", custom_scope="CC queues")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: FAIL}

    def test_scoped_rbac_without_entra_mailbox_grant_passes(self):
        b = rbac_tenant()
        b.role_assignment(APP, "cc-group", "Application Mail.Read", group_scope=GROUP)
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: PASS}

    def test_app_with_no_mailbox_permission_passes(self):
        b = bare_tenant(requested=("User.Read.All",))
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: PASS}

    def test_requested_but_not_granted_mailbox_permission_is_not_held(self):
        b = bare_tenant(requested=("Mail.ReadWrite",), granted=())
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_first_party_publisher_app_named_in_baseline_is_judged(self):
        # Leaving out first-party Microsoft apps is a sweep (TEN-*) rule; an integration is always judged.
        b = bare_tenant(application=False, owner_org=MICROSOFT_TENANT)
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_vendor_multi_tenant_app_is_judged(self):
        b = bare_tenant(application=False, owner_org=VENDOR_TENANT)
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}
        b.policy(APP, GROUP)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    @pytest.mark.parametrize("app_kwargs", [dict(service_principal=False), dict(enabled=False),
                                            dict(application=False)], ids=["no-sp", "disabled", "object-gone"])
    def test_skips_when_app001_fails(self, app_kwargs):
        out = run_check(self.spec, bare_tenant(**app_kwargs))
        assert out.by_resource() == {APP: SKIP}
        assert "APP-001" in out.only().message

    @pytest.mark.parametrize("section", ["exchange.applicationAccessPolicies", "graph.appRoleAssignments",
                                         "graph.resources"])
    def test_errors_when_a_needed_section_failed(self, section):
        b = compliant_tenant()
        b.fail(section)
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, section)

    def test_errors_when_policy_section_missing(self):
        b = compliant_tenant()
        b.drop("exchange.applicationAccessPolicies")
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, "exchange.applicationAccessPolicies")

    def test_no_exchange_service_principal_means_no_rbac_assignment(self):
        # Assignments go to the app's Exchange service principal; without one there is nothing to read.
        b = compliant_tenant()
        b.fail("exchange.roleAssignments")
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    @pytest.mark.parametrize("section", ["exchange.roleAssignments", "exchange.servicePrincipals"])
    def test_errors_when_rbac_data_is_missing_and_entra_side_is_restricted(self, section):
        b = compliant_tenant()
        b.exo_service_principal(APP)  # the app exists in Exchange, so it may hold RBAC assignments
        b.fail(section)
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, section)

    def test_errors_when_rbac_data_is_missing_and_app_holds_no_entra_mailbox_grant(self):
        b = rbac_tenant()
        b.fail("exchange.roleAssignments")
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: ERROR}

    def test_errors_when_is_valid_is_missing(self):
        b = compliant_tenant()
        del policies(b)[0]["IsValid"]
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_errors_when_access_right_is_missing(self):
        b = compliant_tenant()
        del policies(b)[0]["AccessRight"]
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_errors_when_granted_role_resource_was_not_collected(self):
        b = compliant_tenant()
        b.data("graph.appRoleAssignments")[0]["resourceId"] = sp_id("unknown-resource")
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_errors_when_the_apps_role_assignments_were_never_asked_for(self):
        b = compliant_tenant()
        b.queried("graph.appRoleAssignments", [f"principal:{sp_id(OTHER_APP)}"])
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_errors_when_role_assignment_value_missing(self):
        b = compliant_tenant()
        b.role_assignment(APP, "cc-readwrite", "Application Mail.ReadWrite", custom_scope="CC queues")
        del b.data("exchange.roleAssignments")[0]["Role"]
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_skips_when_exchange_collection_is_switched_off(self):
        b = compliant_tenant()
        switch_exchange_off(b)
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: SKIP}
        assert "transport" in out.only().message


# == SCOPE-002: The access policy targets the scope group and is valid ===============================

class TestScope002:
    spec = scope.policy_targets_group

    def test_own_valid_policy_on_scope_group_passes(self):
        assert run_check(self.spec, compliant_tenant()).by_resource() == {APP: PASS}

    def test_scope_group_address_compared_case_insensitively(self):
        b = compliant_tenant()
        out = run_check(self.spec, b, baseline(integration(scope_group="CCTR_Sec_Group@Contoso.com")))
        assert out.by_resource() == {APP: PASS}

    def test_own_policy_targeting_another_group_fails(self):
        b = bare_tenant()
        b.group("fail-other@contoso.com", ["ceo@contoso.com"])
        b.policy(APP, "fail-other@contoso.com")
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: FAIL}
        assert "fail-other" in out.only().message

    def test_own_policy_targeting_a_group_not_collected_fails(self):
        b = bare_tenant()
        b.policy(APP, "fail-unknown@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_own_invalid_policy_on_scope_group_fails(self):
        b = bare_tenant()
        b.policy(APP, GROUP, valid=False)
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: FAIL}
        assert "IsValid" in out.only().message

    def test_one_of_two_own_policies_wrong_fails(self):
        b = compliant_tenant()
        b.group("fail-other@contoso.com", ["ceo@contoso.com"])
        b.policy(APP, "fail-other@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_no_own_restrict_policy_skips(self):
        out = run_check(self.spec, bare_tenant())
        assert out.by_resource() == {APP: SKIP}

    def test_only_a_wildcard_policy_skips(self):
        b = bare_tenant()
        b.policy("*", "fail-other@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: SKIP}

    def test_invalid_wildcard_beside_a_good_own_policy_is_not_judged_here(self):
        b = compliant_tenant()
        b.policy("*", "gone@contoso.com", valid=False)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_own_deny_access_policy_is_not_a_restrict_policy(self):
        b = bare_tenant()
        b.policy(APP, "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: SKIP}

    def test_other_apps_policy_skips(self):
        b = bare_tenant()
        b.policy(OTHER_APP, "fail-other@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: SKIP}

    def test_skips_when_app001_fails(self):
        b = bare_tenant(enabled=False)
        b.policy(APP, "fail-other@contoso.com")
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: SKIP}
        assert "APP-001" in out.only().message

    def test_vendor_app_is_judged(self):
        b = bare_tenant(application=False, owner_org=VENDOR_TENANT)
        b.group("fail-other@contoso.com", ["ceo@contoso.com"])
        b.policy(APP, "fail-other@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    @pytest.mark.parametrize("section", ["exchange.applicationAccessPolicies", "exchange.groups"])
    def test_errors_when_a_needed_section_failed(self, section):
        b = compliant_tenant()
        b.fail(section)
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, section)

    def test_errors_when_is_valid_is_missing(self):
        b = compliant_tenant()
        del policies(b)[0]["IsValid"]
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_errors_when_scope_group_was_never_asked_for(self):
        b = compliant_tenant()
        b.queried("exchange.groups", ["someother@contoso.com"])
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_skips_when_exchange_collection_is_switched_off(self):
        b = compliant_tenant()
        switch_exchange_off(b)
        assert run_check(self.spec, b).by_resource() == {APP: SKIP}


# == SCOPE-003: The app's access policy is unambiguous ===============================================

class TestScope003Policy:
    spec = scope.policy_unambiguous

    def test_one_own_restrict_policy_passes(self):
        assert run_check(self.spec, compliant_tenant()).by_resource() == {APP: PASS}

    def test_two_policies_naming_the_app_fail(self):
        b = compliant_tenant()
        b.policy(APP, "other@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_two_policies_naming_the_app_fail_with_differently_cased_app_id(self):
        b = compliant_tenant()
        b.policy(APP.upper(), "other@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_deny_access_naming_the_app_fails(self):
        b = bare_tenant()
        b.policy(APP, "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_restrict_plus_deny_naming_the_app_fails(self):
        b = compliant_tenant()
        b.policy(APP, "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_single_invalid_own_policy_is_not_ambiguous(self):
        # Invalidity is SCOPE-002's business; SCOPE-003 asks only how many policies name the app and their right.
        b = bare_tenant()
        b.policy(APP, GROUP, valid=False)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_valid_wildcard_restrict_fails_beside_own_policy(self):
        b = compliant_tenant()
        b.policy("*", "everyone@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_valid_wildcard_restrict_fails_even_where_own_policy_is_invalid(self):
        b = bare_tenant()
        b.policy(APP, GROUP, valid=False)
        b.policy("*", "everyone@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_valid_wildcard_restrict_fails_when_nothing_names_the_app(self):
        b = bare_tenant()
        b.policy("*", "everyone@contoso.com")
        assert run_check(self.spec, b).by_resource() == {APP: FAIL}

    def test_invalid_wildcard_restrict_does_not_fail(self):
        b = compliant_tenant()
        b.policy("*", "gone@contoso.com", valid=False)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_only_an_invalid_wildcard_restrict_is_not_a_skip_and_does_not_fail(self):
        # Interpretation: an invalid wildcard RestrictAccess still "exists" (so no SKIP) but never fails.
        b = bare_tenant()
        b.policy("*", "gone@contoso.com", valid=False)
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_wildcard_deny_beside_own_policy_never_fails(self):
        b = compliant_tenant()
        b.policy("*", "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_skips_when_nothing_names_the_app_and_no_wildcard_restrict(self):
        assert run_check(self.spec, bare_tenant()).by_resource() == {APP: SKIP}

    def test_skips_with_only_a_wildcard_deny(self):
        b = bare_tenant()
        b.policy("*", "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: SKIP}

    def test_other_apps_policies_do_not_name_the_app(self):
        b = compliant_tenant()
        b.policy(OTHER_APP, "other@contoso.com")
        b.policy(OTHER_APP, "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b).by_resource() == {APP: PASS}

    def test_skips_when_app001_fails(self):
        b = bare_tenant(service_principal=False)
        b.policy(APP, GROUP)
        b.policy(APP, "other@contoso.com")
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: SKIP}
        assert "APP-001" in out.only().message

    def test_errors_when_policy_section_failed(self):
        b = compliant_tenant()
        b.fail("exchange.applicationAccessPolicies")
        out = run_check(self.spec, b)
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, "exchange.applicationAccessPolicies")

    @pytest.mark.parametrize("key", ["AppId", "AccessRight", "IsValid"])
    def test_errors_when_a_policy_value_is_missing(self, key):
        b = compliant_tenant()
        del policies(b)[0][key]
        assert run_check(self.spec, b).by_resource() == {APP: ERROR}

    def test_skips_when_exchange_collection_is_switched_off(self):
        b = compliant_tenant()
        switch_exchange_off(b)
        assert run_check(self.spec, b).by_resource() == {APP: SKIP}


class TestScope003Rbac:
    spec = scope.policy_unambiguous

    @pytest.mark.parametrize("right", ["RestrictAccess", "DenyAccess"])
    def test_any_policy_naming_the_app_fails(self, right):
        b = rbac_tenant()
        b.policy(APP, GROUP, right=right)
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: FAIL}

    def test_invalid_policy_naming_the_app_still_fails(self):
        b = rbac_tenant()
        b.policy(APP, GROUP, valid=False)
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: FAIL}

    def test_valid_wildcard_restrict_fails(self):
        b = rbac_tenant()
        b.policy("*", "everyone@contoso.com")
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: FAIL}

    def test_invalid_wildcard_restrict_does_not_fail(self):
        b = rbac_tenant()
        b.policy("*", "gone@contoso.com", valid=False)
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: PASS}

    def test_skips_when_nothing_names_the_app(self):
        b = rbac_tenant()
        b.policy(OTHER_APP, GROUP)
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: SKIP}

    def test_wildcard_deny_never_fails(self):
        b = rbac_tenant()
        b.policy("*", "executives@contoso.com", right="DenyAccess")
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: SKIP}


# == SCOPE-004: Effective access is granted to every queue mailbox ===================================

QUEUES = ("pass-granted@contoso.com", "fail-denied@contoso.com")


def queue_tenant(**app_kwargs: Any) -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, **app_kwargs)
    b.mailbox("pass-granted@contoso.com")
    b.mailbox("fail-denied@contoso.com")
    b.access_test(APP, "pass-granted@contoso.com", "Granted")
    b.access_test(APP, "fail-denied@contoso.com", "Denied")
    return b


class TestScope004Policy:
    spec = scope.queues_reachable

    def test_granted_passes_and_denied_fails_per_queue(self):
        out = run_check(self.spec, queue_tenant(), baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": PASS, "fail-denied@contoso.com": FAIL}

    def test_compliant_tenant_passes_every_queue(self):
        out = run_check(self.spec, compliant_tenant())
        assert out.by_resource() == {"support@contoso.com": PASS, "sales@contoso.com": PASS}

    def test_resource_is_lower_cased_address(self):
        out = run_check(self.spec, queue_tenant(), baseline(integration(mailboxes=("Pass-Granted@Contoso.com",))))
        assert out.by_resource() == {"pass-granted@contoso.com": PASS}

    def test_missing_mailbox_skips_that_item(self):
        out = run_check(self.spec, queue_tenant(),
                        baseline(integration(mailboxes=(*QUEUES, "skip-missing@contoso.com"))))
        assert out.by_resource() == {"pass-granted@contoso.com": PASS, "fail-denied@contoso.com": FAIL,
                                     "skip-missing@contoso.com": SKIP}

    def test_missing_access_test_errors_for_that_item_only(self):
        b = queue_tenant()
        b.mailbox("error-untested@contoso.com")
        out = run_check(self.spec, b, baseline(integration(mailboxes=(*QUEUES, "error-untested@contoso.com"))))
        assert out.by_resource() == {"pass-granted@contoso.com": PASS, "fail-denied@contoso.com": FAIL,
                                     "error-untested@contoso.com": ERROR}

    def test_access_test_of_another_app_does_not_count(self):
        b = queue_tenant()
        b.mailbox("error-untested@contoso.com")
        b.access_test(OTHER_APP, "error-untested@contoso.com", "Granted")
        out = run_check(self.spec, b, baseline(integration(mailboxes=("error-untested@contoso.com",))))
        assert out.by_resource() == {"error-untested@contoso.com": ERROR}

    def test_collector_item_error_errors_for_that_item(self):
        b = queue_tenant()
        b.mailbox("error-item@contoso.com")
        b.item_error("exchange.accessTests", f"{APP}|error-item@contoso.com", "Test-ApplicationAccessPolicy timed out")
        out = run_check(self.spec, b, baseline(integration(mailboxes=(*QUEUES, "error-item@contoso.com"))))
        assert out.by_resource() == {"pass-granted@contoso.com": PASS, "fail-denied@contoso.com": FAIL,
                                     "error-item@contoso.com": ERROR}
        assert "timed out" in {f.resource: f for f in out.findings}["error-item@contoso.com"].message

    def test_item_error_wins_over_a_stale_result(self):
        b = queue_tenant()
        b.item_error("exchange.accessTests", f"{APP}|pass-granted@contoso.com", "timed out")
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": ERROR, "fail-denied@contoso.com": FAIL}

    def test_access_test_never_asked_for_errors_for_that_item(self):
        b = queue_tenant()
        b.queried("exchange.accessTests", [f"{APP}|fail-denied@contoso.com"])
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": ERROR, "fail-denied@contoso.com": FAIL}

    def test_mailbox_never_asked_for_errors_for_that_item(self):
        b = queue_tenant()
        b.queried("exchange.mailboxes", ["fail-denied@contoso.com"])
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": ERROR, "fail-denied@contoso.com": FAIL}

    def test_missing_access_check_result_value_errors(self):
        b = queue_tenant()
        del b.data("exchange.accessTests")[0]["AccessCheckResult"]
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        # The section is parsed strictly as a whole, so the malformed row costs every item of it (never a PASS).
        assert out.by_resource() == {"pass-granted@contoso.com": ERROR, "fail-denied@contoso.com": ERROR}

    def test_failed_access_test_section_errors_naming_it(self):
        b = queue_tenant()
        b.fail("exchange.accessTests")
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": ERROR, "fail-denied@contoso.com": ERROR}
        assert_messages_name(out, "exchange.accessTests")

    def test_dropped_mailbox_section_errors_naming_it(self):
        b = queue_tenant()
        b.drop("exchange.mailboxes")
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": ERROR, "fail-denied@contoso.com": ERROR}
        assert_messages_name(out, "exchange.mailboxes")

    def test_exchange_switched_off_skips(self):
        b = queue_tenant()
        switch_exchange_off(b)
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": SKIP, "fail-denied@contoso.com": SKIP}
        assert all("transport" in f.message for f in out.findings)

    @pytest.mark.parametrize("app_kwargs", [dict(service_principal=False), dict(enabled=False)],
                             ids=["no-sp", "disabled"])
    def test_still_runs_when_app001_fails(self, app_kwargs):
        out = run_check(self.spec, queue_tenant(**app_kwargs), baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": PASS, "fail-denied@contoso.com": FAIL}

    def test_authorization_tests_are_not_needed_in_the_policy_model(self):
        b = queue_tenant()
        b.fail("exchange.authorizationTests")
        out = run_check(self.spec, b, baseline(integration(mailboxes=QUEUES)))
        assert out.by_resource() == {"pass-granted@contoso.com": PASS, "fail-denied@contoso.com": FAIL}

    def test_no_queue_mailboxes_skips(self):
        out = run_check(self.spec, queue_tenant(), baseline(integration(mailboxes=())))
        assert out.by_resource() == {APP: SKIP}


class TestScope004Rbac:
    spec = scope.queues_reachable
    base = staticmethod(lambda: rbac_base(mailboxes=("pass-all@contoso.com", "fail-partial@contoso.com",
                                                     "fail-out-of-scope@contoso.com", "fail-no-rows@contoso.com")))

    def tenant(self) -> SnapshotBuilder:
        b = rbac_tenant()
        for address in ("pass-all@contoso.com", "fail-partial@contoso.com", "fail-out-of-scope@contoso.com",
                        "fail-no-rows@contoso.com"):
            b.mailbox(address)
        b.authorization_test(APP, "pass-all@contoso.com",
                             [("Application Mail.ReadWrite", True), ("Application Mail.Send", True)])
        b.authorization_test(APP, "fail-partial@contoso.com",
                             [("Application Mail.ReadWrite", True), ("Application Mail.Send", False)])
        b.authorization_test(APP, "fail-out-of-scope@contoso.com",
                             [("Application Mail.ReadWrite", False), ("Application Mail.Send", False)])
        b.authorization_test(APP, "fail-no-rows@contoso.com", [])
        return b

    def test_every_baseline_permission_needs_an_in_scope_row(self):
        out = run_check(self.spec, self.tenant(), self.base())
        assert out.by_resource() == {"pass-all@contoso.com": PASS, "fail-partial@contoso.com": FAIL,
                                     "fail-out-of-scope@contoso.com": FAIL, "fail-no-rows@contoso.com": FAIL}
        assert "Mail.Send" in {f.resource: f for f in out.findings}["fail-partial@contoso.com"].message

    def test_unrelated_in_scope_role_does_not_grant_a_baseline_permission(self):
        b = rbac_tenant()
        b.mailbox("fail-wrong-role@contoso.com")
        b.authorization_test(APP, "fail-wrong-role@contoso.com",
                             [("Application Mail.ReadWrite", True), ("Application Calendars.Read", True)])
        out = run_check(self.spec, b, rbac_base(mailboxes=("fail-wrong-role@contoso.com",)))
        assert out.by_resource() == {"fail-wrong-role@contoso.com": FAIL}

    def test_full_access_role_in_scope_grants_only_itself(self):
        b = rbac_tenant()
        b.mailbox("fail-full@contoso.com")
        b.authorization_test(APP, "fail-full@contoso.com", [("Application Mail Full Access", True)])
        assert run_check(self.spec, b, rbac_base(mailboxes=("fail-full@contoso.com",))).by_resource() == {
            "fail-full@contoso.com": FAIL}
        base = rbac_base(permissions=("Application Mail Full Access",), mailboxes=("fail-full@contoso.com",))
        assert run_check(self.spec, b, base).by_resource() == {"fail-full@contoso.com": PASS}

    def test_full_access_row_listing_permissions_still_does_not_grant_them(self):
        b = rbac_tenant()
        b.mailbox("fail-full@contoso.com")
        b.authorization_test(APP, "fail-full@contoso.com", [("Application Mail Full Access", True)])
        b.data("exchange.authorizationTests")[-1]["Rows"][0]["GrantedPermissions"] = "Mail.ReadWrite, Mail.Send"
        out = run_check(self.spec, b, rbac_base(mailboxes=("fail-full@contoso.com",)))
        assert out.by_resource() == {"fail-full@contoso.com": FAIL}

    def test_access_policy_test_is_not_what_rbac_is_judged_by(self):
        b = self.tenant()
        b.access_test(APP, "fail-no-rows@contoso.com", "Granted")
        out = run_check(self.spec, b, self.base())
        assert out.by_resource()["fail-no-rows@contoso.com"] is FAIL

    def test_access_policy_tests_are_not_needed_in_the_rbac_model(self):
        b = self.tenant()
        b.fail("exchange.accessTests")
        out = run_check(self.spec, b, rbac_base(mailboxes=("pass-all@contoso.com", "fail-partial@contoso.com")))
        assert out.by_resource() == {"pass-all@contoso.com": PASS, "fail-partial@contoso.com": FAIL}

    def test_authorization_test_never_asked_for_errors_for_that_item(self):
        b = self.tenant()
        b.queried("exchange.authorizationTests", [f"{APP}|fail-partial@contoso.com"])
        out = run_check(self.spec, b, rbac_base(mailboxes=("pass-all@contoso.com", "fail-partial@contoso.com")))
        assert out.by_resource() == {"pass-all@contoso.com": ERROR, "fail-partial@contoso.com": FAIL}

    def test_missing_mailbox_skips(self):
        out = run_check(self.spec, self.tenant(), rbac_base(mailboxes=("skip-missing@contoso.com",)))
        assert out.by_resource() == {"skip-missing@contoso.com": SKIP}

    def test_missing_authorization_test_errors_for_that_item_only(self):
        b = self.tenant()
        b.mailbox("error-untested@contoso.com")
        out = run_check(self.spec, b, rbac_base(mailboxes=("pass-all@contoso.com", "error-untested@contoso.com")))
        assert out.by_resource() == {"pass-all@contoso.com": PASS, "error-untested@contoso.com": ERROR}

    def test_collector_item_error_errors_for_that_item(self):
        b = self.tenant()
        b.mailbox("error-item@contoso.com")
        b.item_error("exchange.authorizationTests", f"{APP}|error-item@contoso.com", "cmdlet failed")
        out = run_check(self.spec, b, rbac_base(mailboxes=("pass-all@contoso.com", "error-item@contoso.com")))
        assert out.by_resource() == {"pass-all@contoso.com": PASS, "error-item@contoso.com": ERROR}

    def test_missing_in_scope_value_errors(self):
        b = self.tenant()
        del b.data("exchange.authorizationTests")[0]["Rows"][0]["InScope"]
        out = run_check(self.spec, b, rbac_base(mailboxes=("pass-all@contoso.com",)))
        assert out.by_resource() == {"pass-all@contoso.com": ERROR}

    def test_failed_authorization_section_errors_naming_it(self):
        b = self.tenant()
        b.fail("exchange.authorizationTests")
        out = run_check(self.spec, b, rbac_base(mailboxes=("pass-all@contoso.com",)))
        assert out.by_resource() == {"pass-all@contoso.com": ERROR}
        assert_messages_name(out, "exchange.authorizationTests")


# == SCOPE-005: Effective access is denied outside the scope group ===================================

NO_EXPLICIT_CANARY = baseline(integration(canaries=()))
"""SCOPE-005 tests choose their canaries in the snapshot; a baseline canary never probed would be ERROR."""


def canary_tenant(**app_kwargs: Any) -> SnapshotBuilder:
    """Restricted app (compliant tenant, or `bare_tenant(**app_kwargs)` plus its policy) and two canary mailboxes
    whose access tests say Granted / Denied; the test chooses which canaries the snapshot records."""
    b = compliant_tenant() if not app_kwargs else bare_tenant(**app_kwargs)
    if app_kwargs:
        b.policy(APP, GROUP)
    for address in ("fail-granted@contoso.com", "pass-denied@contoso.com"):
        b.mailbox(address, "UserMailbox", user=True)
    b.access_test(APP, "fail-granted@contoso.com", "Granted")
    b.access_test(APP, "pass-denied@contoso.com", "Denied")
    return b


class TestScope005:
    spec = scope.canaries_unreachable

    def test_granted_with_entra_mailbox_grant_fails_denied_passes(self):
        b = canary_tenant()
        b.canaries(APP, ["fail-granted@contoso.com", "pass-denied@contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "pass-denied@contoso.com": PASS}

    def test_sampled_canaries_are_judged_too_and_lower_cased(self):
        b = canary_tenant()
        b.canaries(APP, ["pass-denied@contoso.com"], sampled=["Fail-Granted@Contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "pass-denied@contoso.com": PASS}

    def test_explicit_canary_also_sampled_is_judged_once(self):
        b = canary_tenant()
        b.canaries(APP, ["pass-denied@contoso.com"], sampled=["pass-denied@contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert [f.resource for f in out.findings] == ["pass-denied@contoso.com"]

    def test_granted_without_entra_mailbox_grant_passes(self):
        b = canary_tenant(requested=("User.Read.All",))
        b.canaries(APP, ["pass-granted-no-grant@contoso.com"])
        b.mailbox("pass-granted-no-grant@contoso.com", "UserMailbox")
        b.access_test(APP, "pass-granted-no-grant@contoso.com", "Granted")
        assert run_check(self.spec, b, NO_EXPLICIT_CANARY).by_resource() == {"pass-granted-no-grant@contoso.com": PASS}

    @pytest.mark.parametrize("model", ["policy", "rbac"])
    def test_rbac_mailbox_role_in_scope_fails_whatever_the_model(self, model):
        b = rbac_tenant()
        for address in ("fail-rbac@contoso.com", "pass-rbac-out@contoso.com", "pass-rbac-non-mailbox@contoso.com"):
            b.mailbox(address, "UserMailbox")
            b.access_test(APP, address, "Granted")  # no Entra grant: Granted alone reaches nothing
        b.role_assignment(APP, "other", "Application User.Read.All", custom_scope="x")
        b.authorization_test(APP, "fail-rbac@contoso.com",
                             [("Application Mail.ReadWrite", True), ("Application Mail.Send", False)])
        b.authorization_test(APP, "pass-rbac-out@contoso.com",
                             [("Application Mail.ReadWrite", False), ("Application Mail.Send", False)])
        b.authorization_test(APP, "pass-rbac-non-mailbox@contoso.com", [("Application User.Read.All", True)])
        b.canaries(APP, ["fail-rbac@contoso.com", "pass-rbac-out@contoso.com", "pass-rbac-non-mailbox@contoso.com"])
        base = baseline(integration()) if model == "policy" else rbac_base()
        out = run_check(self.spec, b, base)
        assert out.by_resource() == {"fail-rbac@contoso.com": FAIL, "pass-rbac-out@contoso.com": PASS,
                                     "pass-rbac-non-mailbox@contoso.com": PASS}

    def test_rbac_full_access_role_in_scope_fails(self):
        b = rbac_tenant()
        b.mailbox("fail-full@contoso.com", "UserMailbox")
        b.role_assignment(APP, "full", "Application Mail Full Access", custom_scope="x")
        b.authorization_test(APP, "fail-full@contoso.com", [("Application Mail Full Access", True)])
        b.canaries(APP, ["fail-full@contoso.com"])
        assert run_check(self.spec, b, rbac_base()).by_resource() == {"fail-full@contoso.com": FAIL}

    def test_entra_grant_reaches_canary_in_rbac_model_too(self):
        b = canary_tenant()
        b.canaries(APP, ["fail-granted@contoso.com", "pass-denied@contoso.com"])
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "pass-denied@contoso.com": PASS}

    def test_no_canary_at_all_skips(self):
        b = canary_tenant()
        b.canaries(APP, [], sampled=[])
        out = run_check(self.spec, b, baseline(integration(canaries=())))
        assert out.by_resource() == {APP: SKIP}

    def test_still_runs_when_app001_fails(self):
        b = canary_tenant(enabled=False)
        b.canaries(APP, ["fail-granted@contoso.com", "pass-denied@contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "pass-denied@contoso.com": PASS}

    def test_missing_access_test_errors_for_that_canary_only(self):
        b = canary_tenant()
        b.mailbox("error-untested@contoso.com", "UserMailbox")
        b.canaries(APP, ["fail-granted@contoso.com", "error-untested@contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "error-untested@contoso.com": ERROR}

    def test_access_test_never_asked_for_errors_for_that_canary(self):
        b = canary_tenant()
        b.queried("exchange.accessTests", [f"{APP}|fail-granted@contoso.com"])
        b.canaries(APP, ["fail-granted@contoso.com", "pass-denied@contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "pass-denied@contoso.com": ERROR}

    def test_collector_item_error_errors_for_that_canary(self):
        b = canary_tenant()
        b.item_error("exchange.accessTests", f"{APP}|pass-denied@contoso.com", "timed out")
        b.canaries(APP, ["fail-granted@contoso.com", "pass-denied@contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "pass-denied@contoso.com": ERROR}

    def test_missing_authorization_test_errors_when_the_app_has_rbac_assignments(self):
        b = rbac_tenant()
        b.mailbox("error-untested@contoso.com", "UserMailbox")
        b.canaries(APP, ["error-untested@contoso.com"])
        assert run_check(self.spec, b, rbac_base()).by_resource() == {"error-untested@contoso.com": ERROR}

    def test_missing_access_check_result_errors(self):
        b = canary_tenant()
        b.canaries(APP, ["fail-granted@contoso.com"])
        for t in b.data("exchange.accessTests"):
            if t["Identity"] == "fail-granted@contoso.com":
                del t["AccessCheckResult"]
        assert run_check(self.spec, b, NO_EXPLICIT_CANARY).by_resource() == {"fail-granted@contoso.com": ERROR}

    def test_canary_without_a_mailbox_skips(self):
        # Interpretation: a canary address with no mailbox cannot be reached (like SCOPE-004's missing queue).
        b = canary_tenant()
        b.canaries(APP, ["fail-granted@contoso.com", "skip-no-mailbox@contoso.com"])
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": FAIL, "skip-no-mailbox@contoso.com": SKIP}

    def test_baseline_canary_never_collected_errors(self):
        b = canary_tenant()
        b.canaries(APP, [], sampled=["pass-denied@contoso.com"])
        out = run_check(self.spec, b, baseline(integration(canaries=("error-not-collected@contoso.com",))))
        assert out.by_resource() == {"error-not-collected@contoso.com": ERROR, "pass-denied@contoso.com": PASS}

    @pytest.mark.parametrize("key", ["explicit", "sampled"])
    def test_missing_canary_list_errors(self, key):
        b = canary_tenant()
        b.canaries(APP, ["pass-denied@contoso.com"], sampled=["fail-granted@contoso.com"])
        del b.data("canaries")[APP][key]
        assert run_check(self.spec, b, NO_EXPLICIT_CANARY).by_resource() == {APP: ERROR}

    def test_canaries_section_failed_errors(self):
        b = canary_tenant()
        b.fail("canaries")
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, "canaries")

    def test_no_canary_entry_for_the_app_errors(self):
        b = canary_tenant()
        b.data("canaries").clear()
        assert run_check(self.spec, b, NO_EXPLICIT_CANARY).by_resource() == {APP: ERROR}

    def test_failed_role_assignment_grants_section_errors(self):
        b = canary_tenant()
        b.canaries(APP, ["pass-denied@contoso.com"])
        b.fail("graph.appRoleAssignments")
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"pass-denied@contoso.com": ERROR}
        assert_messages_name(out, "graph.appRoleAssignments")

    def test_exchange_switched_off_skips(self):
        b = canary_tenant()
        b.canaries(APP, ["fail-granted@contoso.com"])
        switch_exchange_off(b)
        out = run_check(self.spec, b, NO_EXPLICIT_CANARY)
        assert out.by_resource() == {"fail-granted@contoso.com": SKIP}
        assert "transport" in out.only().message


# == SCOPE-006: RBAC for Applications assignments of the app are scoped ==============================

def res(name: str) -> str:
    return f"{APP}/{name}"


class TestScope006:
    spec = scope.rbac_scoped

    def test_each_assignment_judged_on_its_scope(self):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "pass-custom", "Application Mail.ReadWrite", custom_scope="CC queues")
        b.role_assignment(APP, "pass-group", "Application Mail.Send", group_scope=GROUP)
        b.role_assignment(APP, "fail-org-wide", "Application Mail.ReadWrite")
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {res("pass-custom"): PASS, res("pass-group"): PASS, res("fail-org-wide"): FAIL}

    def test_administrative_unit_scope_passes(self):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "pass-admin-unit", "Application Mail.ReadWrite")
        row = b.data("exchange.roleAssignments")[0]
        row["RecipientWriteScope"] = "AdministrativeUnit"
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {res("pass-admin-unit"): PASS}

    def test_role_outside_permissions_and_allowed_extra_fails(self):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "fail-extra-role", "Application Calendars.Read", custom_scope="CC queues")
        b.role_assignment(APP, "pass-allowed-extra", "Application Contacts.Read", custom_scope="CC queues")
        b.role_assignment(APP, "pass-permission", "Application Mail.Send", custom_scope="CC queues")
        out = run_check(self.spec, b, rbac_base(allowed_extra=("Contacts.Read",)))
        assert out.by_resource() == {res("fail-extra-role"): FAIL, res("pass-allowed-extra"): PASS,
                                     res("pass-permission"): PASS}

    @pytest.mark.parametrize("role", ["Application Mail Full Access", "Application Exchange Full Access"])
    def test_full_access_role_fails_unless_named_itself(self, role):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "full", role, custom_scope="CC queues")
        # Mail.ReadWrite and Mail.Send are what Full Access covers, but naming them does not allow the role.
        out = run_check(self.spec, b, rbac_base(permissions=("Mail.ReadWrite", "Mail.Send")))
        assert out.by_resource() == {res("full"): FAIL}
        for base in (rbac_base(permissions=(role,)), rbac_base(allowed_extra=(role,))):
            assert run_check(self.spec, b, base).by_resource() == {res("full"): PASS}

    def test_full_access_role_not_matched_by_its_bare_suffix(self):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "fail-full", "Application Mail Full Access", custom_scope="CC queues")
        out = run_check(self.spec, b, rbac_base(allowed_extra=("Mail Full Access",)))
        assert out.by_resource() == {res("fail-full"): FAIL}

    def test_org_wide_role_outside_baseline_is_one_failing_finding(self):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "fail-both", "Application Calendars.ReadWrite")
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {res("fail-both"): FAIL}
        assert "organisation-wide" in out.only().message and "outside" in out.only().message

    def test_judged_in_the_policy_model_too(self):
        b = compliant_tenant()
        b.role_assignment(APP, "fail-org-wide", "Application Mail.ReadWrite")
        assert run_check(self.spec, b).by_resource() == {res("fail-org-wide"): FAIL}

    def test_other_apps_assignments_are_ignored(self):
        b = rbac_tenant()
        b.role_assignment(OTHER_APP, "other-org-wide", "Application Mail.ReadWrite")
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {res("cc-readwrite"): PASS, res("cc-send"): PASS}

    def test_no_assignment_skips(self):
        b = compliant_tenant()
        b.role_assignment(OTHER_APP, "other-org-wide", "Application Mail.ReadWrite")
        assert run_check(self.spec, b).by_resource() == {APP: SKIP}

    def test_skips_when_app001_fails(self):
        b = rbac_tenant()
        b.role_assignment(APP, "fail-org-wide", "Application Mail.ReadWrite")
        b.data("graph.servicePrincipals")[-1]["accountEnabled"] = False
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {APP: SKIP}
        assert "APP-001" in out.only().message

    def test_vendor_app_is_judged(self):
        b = bare_tenant(application=False, owner_org=VENDOR_TENANT, requested=(), granted=())
        b.role_assignment(APP, "fail-org-wide", "Application Mail.ReadWrite")
        assert run_check(self.spec, b, rbac_base()).by_resource() == {res("fail-org-wide"): FAIL}

    @pytest.mark.parametrize("section", ["exchange.roleAssignments", "exchange.servicePrincipals"])
    def test_errors_when_a_needed_section_failed(self, section):
        b = rbac_tenant()
        b.fail(section)
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, section)

    def test_errors_when_section_dropped(self):
        b = rbac_tenant()
        b.drop("exchange.roleAssignments")
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {APP: ERROR}
        assert_messages_name(out, "exchange.roleAssignments")

    @pytest.mark.parametrize("key", ["Role", "Name", "RoleAssignee", "CustomResourceScope", "RecipientWriteScope"])
    def test_errors_when_an_assignment_value_is_missing(self, key):
        b = rbac_tenant()
        del b.data("exchange.roleAssignments")[0][key]
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: ERROR}

    def test_group_scope_is_read_from_recipient_write_scope_when_the_group_property_is_absent(self):
        # Decision (docs/decisions.md): RecipientGroupScope is not a documented output property of
        # Get-ManagementRoleAssignment; RecipientWriteScope "Group" is what marks a group-scoped assignment.
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "pass-group", "Application Mail.Send", group_scope=GROUP)
        del b.data("exchange.roleAssignments")[0]["RecipientGroupScope"]
        assert run_check(self.spec, b, rbac_base()).by_resource() == {f"{APP}/pass-group": PASS}

    def test_errors_when_recipient_write_scope_is_missing(self):
        b = bare_tenant(requested=(), granted=())
        b.role_assignment(APP, "error-org", "Application Mail.Send")
        del b.data("exchange.roleAssignments")[0]["RecipientWriteScope"]
        assert run_check(self.spec, b, rbac_base()).by_resource() == {APP: ERROR}

    def test_skips_when_exchange_collection_is_switched_off(self):
        b = rbac_tenant()
        switch_exchange_off(b)
        out = run_check(self.spec, b, rbac_base())
        assert out.by_resource() == {APP: SKIP}
        assert "transport" in out.only().message
