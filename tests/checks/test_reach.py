"""SCOPE-007, the scope-canary count of SCOPE-005, root causes, TEN-003 vs CRED-002, rotating samples.

The actual scope comes from the builder's sections through the collector's pure part (tests/builders.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from auditor.checks import credentials, reach, scope, tenant
from auditor.collect.canaries import iso_week, sample_canaries
from auditor.engine import evaluate
from auditor.errors import ConfigError
from auditor.models.baseline import PolicyConfig, parse_baseline
from auditor.models.findings import Status
from tests.builders import APP, baseline, cert, compliant_tenant, integration, run_check, secret

SCOPE_007 = reach.reaches_only_queues
OTHER = "bbbbbbbb-1111-4111-8111-000000000001"


def test_compliant_app_reaches_only_its_queues():
    f = run_check(SCOPE_007, compliant_tenant()).only()
    assert (f.status, f.resource, f.severity.value) == (Status.PASS, APP, "critical")
    assert f.evidence["beyond_queues"] == 0 and f.evidence["paths"] == "policy"


def test_policy_on_another_group_names_the_group_and_a_mailbox():
    b = compliant_tenant()
    b.mailbox("hr@contoso.com", "UserMailbox", user=True)
    b.group("cctr_pilot_group@contoso.com", ["support@contoso.com", "hr@contoso.com"],
            member_kinds={"hr@contoso.com": "UserMailbox"})
    b.data("exchange.applicationAccessPolicies").clear()
    b.policy(APP, "cctr_pilot_group@contoso.com")
    f = run_check(SCOPE_007, b).only()
    assert f.status is Status.FAIL
    assert f.message == "reaches 1 mailbox of cctr_pilot_group@contoso.com beyond its queues, e.g. hr@contoso.com"
    assert f.evidence["mailboxes"] == ["hr@contoso.com"]
    assert [(p["path"], p["count"], p["outside_queues"]) for p in f.evidence["by_path"]] == [
        ("RestrictAccess", 2, 1)]


def test_no_policy_reaches_the_whole_tenant():
    b = compliant_tenant()
    b.data("exchange.applicationAccessPolicies").clear()
    f = run_check(SCOPE_007, b).only()
    assert f.status is Status.FAIL
    assert f.message == "can reach 1 mailbox beyond its 2 queue mailboxes: no valid RestrictAccess policy"
    assert f.evidence["all_mailboxes"] is True


def test_an_invalid_policy_restricts_nothing():
    b = compliant_tenant()
    b.data("exchange.applicationAccessPolicies")[0]["IsValid"] = False
    assert "no valid RestrictAccess policy" in run_check(SCOPE_007, b).only().message


@pytest.mark.parametrize(("is_valid", "status"), [("True", Status.PASS), ("false", Status.FAIL), (None, Status.ERROR),
                                                  ("yes", Status.ERROR)])
def test_is_valid_as_text_is_read_and_anything_else_is_unknown(is_valid: object, status: Status):
    b = compliant_tenant()
    b.data("exchange.applicationAccessPolicies")[0]["IsValid"] = is_valid
    assert run_check(SCOPE_007, b).only().status is status


def test_wildcard_deny_keeps_its_group_out_of_reach():
    b = compliant_tenant()
    b.data("exchange.applicationAccessPolicies").clear()
    b.group("executives@contoso.com", ["ceo@contoso.com"], member_kinds={"ceo@contoso.com": "UserMailbox"})
    b.policy("*", "executives@contoso.com", right="DenyAccess")
    f = run_check(SCOPE_007, b).only()
    assert f.status is Status.PASS  # every mailbox but the CEO's: exactly the two queues here


def test_no_mailbox_permission_is_skip():
    b = compliant_tenant()
    b.data("graph.appRoleAssignments").clear()
    f = run_check(SCOPE_007, b).only()
    assert (f.status, f.message) == (Status.SKIP, "the app holds no mailbox permission")


def test_rbac_management_scope_matching_an_executive():
    b = compliant_tenant()
    b.data("graph.appRoleAssignments").clear()
    b.data("exchange.applicationAccessPolicies").clear()
    b.role_assignment(APP, "cc-read", "Application Mail.Read", custom_scope="Queues")
    b.scope_recipients["Queues"] = ["support@contoso.com", "sales@contoso.com", "ceo@contoso.com"]
    f = run_check(SCOPE_007, b).only()
    assert f.status is Status.FAIL and f.evidence["paths"] == "rbac"
    assert f.message == "reaches 1 mailbox of Queues beyond its queues, e.g. ceo@contoso.com"


def test_organisation_wide_rbac_reaches_all_unless_disabled():
    b = compliant_tenant()
    b.data("graph.appRoleAssignments").clear()
    b.data("exchange.applicationAccessPolicies").clear()
    b.role_assignment(APP, "cc-read", "Application Mail.Read")
    f = run_check(SCOPE_007, b).only()
    assert f.status is Status.FAIL and "an organisation-wide RBAC assignment" in f.message
    b.data("exchange.roleAssignments")[0]["Enabled"] = False
    f = run_check(SCOPE_007, b).only()  # Set-ManagementRoleAssignment -Enabled $false: the role grants nothing
    assert f.status is Status.PASS and f.evidence["count"] == 0


def test_a_scope_that_cannot_be_evaluated_is_error_never_pass():
    b = compliant_tenant()
    b.data("graph.appRoleAssignments").clear()
    b.data("exchange.applicationAccessPolicies").clear()
    b.role_assignment(APP, "cc-read", "Application Mail.Read", custom_scope="Queues")  # no preview result
    f = run_check(SCOPE_007, b).only()
    assert f.status is Status.ERROR and "RecipientPreviewFilter was not run" in f.message


def test_a_missing_actual_scope_section_is_error():
    b = compliant_tenant()
    b.fail("exchange.actualScope")
    assert run_check(SCOPE_007, b).only().status is Status.ERROR


def test_untested_scope_canaries_are_one_fail():
    b = compliant_tenant()
    b.data("canaries")[APP].update(scope=["alice@contoso.com"], scope_untested=1998, scope_limit=1)
    b.mailbox("alice@contoso.com", "UserMailbox", user=True)
    b.access_test(APP, "alice@contoso.com", "Denied")
    found = run_check(scope.canaries_unreachable, b).findings
    (count,) = [f for f in found if f.resource == APP]
    assert count.status is Status.FAIL and count.message.startswith("1,998 mailboxes of the app's actual scope")
    assert {f.resource: f.status for f in found if f.resource != APP} == {
        "ceo@contoso.com": Status.PASS, "alice@contoso.com": Status.PASS}


def test_scope_canaries_alone_are_probed_and_fail_when_reachable():
    b = compliant_tenant()
    b.data("canaries")[APP] = {"explicit": [], "sampled": [], "scope": ["hr@contoso.com"], "scope_untested": 0}
    b.mailbox("hr@contoso.com", "UserMailbox", user=True)
    b.access_test(APP, "hr@contoso.com", "Granted")
    f = run_check(scope.canaries_unreachable, b).only()
    assert (f.resource, f.status) == ("hr@contoso.com", Status.FAIL)


def test_reach_failures_name_their_root_cause():
    b = compliant_tenant()
    b.mailbox("hr@contoso.com", "UserMailbox", user=True)
    b.group("cctr_pilot_group@contoso.com", ["support@contoso.com", "sales@contoso.com", "hr@contoso.com"],
            member_kinds={"hr@contoso.com": "UserMailbox"})
    b.data("exchange.applicationAccessPolicies").clear()
    b.policy(APP, "cctr_pilot_group@contoso.com")
    b.data("canaries")[APP]["scope"] = ["hr@contoso.com"]
    b.access_test(APP, "hr@contoso.com", "Granted")
    findings = evaluate(b.build(), baseline()).findings
    (s7,) = [f for f in findings if f.check_id == "SCOPE-007"]
    (hr,) = [f for f in findings if f.check_id == "SCOPE-005" and f.resource == "hr@contoso.com"]
    for f in (s7, hr):
        assert f.status is Status.FAIL and f.severity.value == "critical"
        assert "(root cause: SCOPE-002: policy targets cctr_pilot_group@contoso.com" in f.message
        assert f.evidence["root_cause"] == "SCOPE-002" and "Remove-ApplicationAccessPolicy" in f.remediation
    ceo = [f for f in findings if f.check_id == "SCOPE-005" and f.resource == "ceo@contoso.com"]
    assert "root cause" not in ceo[0].message  # a PASS names no cause


def test_ten_003_leaves_an_integrations_expiring_credential_to_cred_002():
    b = compliant_tenant()
    b.data("graph.applications")[0]["keyCredentials"] = [cert(-30, 10, "soon")]
    b.app(OTHER, "Other App", requested=("User.Read.All",), credentials=[secret(-30, 10, "soon")])
    base = baseline()
    assert run_check(credentials.credentials_not_expiring, b, base).only().status is Status.FAIL
    got = {f.resource: f.status for f in run_check(tenant.no_expiring_credentials, b, base).findings}
    assert got == {APP: Status.SKIP, OTHER: Status.FAIL}


POOL = [f"user{i:03d}@contoso.com" for i in range(200)]


def test_samples_rotate_weekly_and_fixed_keeps_the_old_order():
    week1, week2 = iso_week(datetime(2026, 12, 1, tzinfo=UTC)), iso_week(datetime(2026, 12, 8, tzinfo=UTC))
    assert (week1, week2) == ("2026-W49", "2026-W50")
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"  # ISO years start on the week's Monday
    a, b = sample_canaries(APP, POOL, [], 5, week1), sample_canaries(APP, POOL, [], 5, week2)
    assert a != b and sample_canaries(APP, POOL, [], 5, week1) == a
    assert sample_canaries(APP, POOL, [], 5) == sample_canaries(APP, POOL, [], 5, "")  # fixed: today's order


@pytest.mark.parametrize(("text", "problem"), [
    ("scope_canary_limit = 5001", "policy.scope_canary_limit: must be at most 5000"),
    ("scope_canary_limit = -1", "policy.scope_canary_limit: must be at least 0"),
    ('canary_rotation = "daily"', "policy.canary_rotation: 'daily' is not one of weekly, fixed"),
])
def test_policy_keys_are_validated(text: str, problem: str):
    with pytest.raises(ConfigError) as exc:
        parse_baseline(f'[tenant]\nid = "11111111-2222-3333-4444-555555555555"\n[policy]\n{text}\n', origin="b.toml")
    assert str(exc.value) == f"b.toml: {problem}"


def test_policy_defaults():
    assert (PolicyConfig().scope_canary_limit, PolicyConfig().canary_rotation) == (200, "weekly")
    assert dataclasses.replace(integration(), canaries=()).canaries == ()
