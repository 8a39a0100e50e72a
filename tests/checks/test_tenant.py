"""TEN-001 to TEN-004 (docs/checks.md): the tenant sweep over every service principal.

App ids are named by the verdict they must get: `fa11...` (fail), `9a55...` (pass), `0000...` (no finding),
`e220...` (error), `5419...` (skip). Every test asserts the exact set of resources with their statuses; a
tenant-level SKIP/ERROR carries the tenant id.
"""

from __future__ import annotations

from typing import Any

import pytest

from auditor.checks import tenant
from auditor.models.baseline import PolicyConfig, SweepConfig
from auditor.models.findings import Status
from tests.builders import (
    APP,
    GRAPH,
    MICROSOFT_TENANT,
    TENANT_ID,
    SnapshotBuilder,
    baseline,
    cert,
    compliant_tenant,
    run_check,
    secret,
    sp_id,
    when,
)

PASS, FAIL, ERROR, SKIP = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP

MICROSOFT_CORP = "72f988bf-86f1-41af-91ab-2d7cd011db47"
VENDOR_TENANT = "99999999-8888-7777-6666-555555555555"
GROUP = "scope_group@contoso.com"

FAIL_APP = "fa110000-0000-4000-8000-000000000001"
FAIL_APP_2 = "fa110000-0000-4000-8000-000000000002"
FAIL_APP_3 = "fa110000-0000-4000-8000-000000000003"
PASS_APP = "9a550000-0000-4000-8000-000000000001"
PASS_APP_2 = "9a550000-0000-4000-8000-000000000002"
NONE_APP = "00000000-0000-4000-8000-0000000000aa"
ERROR_APP = "e2200000-0000-4000-8000-000000000001"
SKIP_APP = "54190000-0000-4000-8000-000000000001"
MS_APP = "0000000a-0000-4000-8000-00000000a501"
MS_APP_2 = "0000000a-0000-4000-8000-00000000a502"

TENANT = TENANT_ID.lower()


def results(out: Any) -> dict[str, Status]:
    """by_resource(), after checking that no resource got two findings (per item: one finding per item)."""
    resources = [f.resource for f in out.findings]
    assert len(resources) == len(set(resources)), [(f.resource, f.status, f.message) for f in out.findings]
    return out.by_resource()


def sweep(**kwargs: Any):
    return baseline(sweep=SweepConfig(**kwargs))


def tenant_with(*apps: tuple[str, tuple[str, ...]], **app_kwargs: Any) -> SnapshotBuilder:
    """A tenant holding the given (app id, granted permissions) apps; nothing else beyond the resources."""
    b = SnapshotBuilder()
    for app_id, perms in apps:
        b.app(app_id, f"app {app_id[:4]}", requested=perms, **app_kwargs)
    return b


# Graph roles the builder does not carry; their GUIDs are test data (checks resolve names through appRoles).
EXTRA_GRAPH_ROLES = {
    "Mail.ReadBasic.All": "693c5e45-0940-467d-9b8a-1022fb9d42ef",
    "MailboxSettings.ReadWrite": "6931bccd-447a-43d1-b442-00a195474933",
    "Calendars.ReadWrite": "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
    "Contacts.ReadWrite": "6918b873-d17a-4dc1-b314-35f528134491",
    "DelegatedPermissionGrant.ReadWrite.All": "8e8e4742-1d95-4f68-9d56-6ee75648c72a",
    "Policy.ReadWrite.PermissionGrant": "a402ca1c-2696-4531-972d-6e5ee4aa11ea",
    "Policy.ReadWrite.ConditionalAccess": "01c0a623-fc9b-48e9-b794-0756f8e8f067",
    "UserAuthenticationMethod.ReadWrite.All": "50483e42-d915-4231-9639-7fdb7fd190e5",
    "Group.ReadWrite.All": "62a82d76-70ea-41e2-9197-370581804d09",
    "GroupMember.ReadWrite.All": "dbaae8cf-10b5-4b86-a4a1-f871c94c6695",
    "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
}
MAILBOX_DATA = ["Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.ReadWrite", "Mail.Send",
                "MailboxSettings.Read", "MailboxSettings.ReadWrite", "Calendars.Read", "Calendars.ReadWrite",
                "Contacts.Read", "Contacts.ReadWrite", "Exchange:full_access_as_app", "Exchange:Mail.Read"]
TAKEOVER = ["RoleManagement.ReadWrite.Directory", "AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All",
            "Directory.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All", "Policy.ReadWrite.PermissionGrant",
            "Policy.ReadWrite.ConditionalAccess", "UserAuthenticationMethod.ReadWrite.All", "Group.ReadWrite.All",
            "GroupMember.ReadWrite.All", "User.ReadWrite.All"]


def grant_any(b: SnapshotBuilder, app_id: str, perm: str) -> None:
    """b.grant(), also for Graph roles the builder lacks (added to the Graph resource's appRoles)."""
    if perm not in EXTRA_GRAPH_ROLES:
        b.grant(app_id, perm)
        return
    graph = next(r for r in b.data("graph.resources") if r["appId"] == GRAPH)
    if not any(r["value"] == perm for r in graph["appRoles"]):
        graph["appRoles"].append({"id": EXTRA_GRAPH_ROLES[perm], "value": perm})
    b.data("graph.appRoleAssignments").append({
        "id": f"ara-{app_id}-{perm}", "principalId": sp_id(app_id), "principalType": "ServicePrincipal",
        "resourceId": graph["id"], "appRoleId": EXTRA_GRAPH_ROLES[perm], "createdDateTime": when(-100)})


def app_holding(app_id: str, *perms: str) -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(app_id, f"app {app_id[:4]}", requested=())
    for perm in perms:
        grant_any(b, app_id, perm)
    return b


def exchange_off(b: SnapshotBuilder) -> None:
    b.collection["exchange_transport"] = "none"
    for name in ("exchange.applicationAccessPolicies", "exchange.recipients", "exchange.groups",
                 "exchange.mailboxes", "exchange.accessTests", "exchange.servicePrincipals",
                 "exchange.roleAssignments", "exchange.managementScopes", "exchange.authorizationTests"):
        if name in b.sections:
            b.drop(name)


# -- TEN-001: every app with mailbox-data permissions is restricted ---------------------------------------


def test_ten001_fail_unrestricted_entra_mail_read():
    out = run_check(tenant.all_mailbox_apps_restricted, tenant_with((FAIL_APP, ("Mail.Read",))), sweep())
    assert results(out) == {FAIL_APP: FAIL}


@pytest.mark.parametrize("perm", MAILBOX_DATA)
def test_ten001_fail_every_unrestricted_mailbox_data_permission(perm):
    out = run_check(tenant.all_mailbox_apps_restricted, app_holding(FAIL_APP, perm), sweep())
    assert results(out) == {FAIL_APP: FAIL}


@pytest.mark.parametrize("perm", MAILBOX_DATA)
def test_ten001_pass_every_mailbox_data_permission_restricted(perm):
    b = app_holding(PASS_APP, perm)
    b.policy(PASS_APP, GROUP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten001_pass_restricted_by_own_policy():
    b = tenant_with((PASS_APP, ("Mail.Read",)))
    b.policy(PASS_APP, GROUP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten001_pass_restricted_by_wildcard_policy():
    b = tenant_with((PASS_APP, ("Mail.Read",)), (PASS_APP_2, ("Mail.ReadWrite", "Mail.Send")))
    b.policy("*", GROUP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS, PASS_APP_2: PASS}


def test_ten001_pass_restrict_and_deny_policies_together():
    b = tenant_with((PASS_APP, ("Mail.Read",)))
    b.policy(PASS_APP, GROUP)
    b.policy(PASS_APP, "executives@contoso.com", right="DenyAccess")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten001_fail_deny_access_only():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.policy(FAIL_APP, "executives@contoso.com", right="DenyAccess")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_fail_wildcard_deny_access_only():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.policy("*", "executives@contoso.com", right="DenyAccess")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_fail_invalid_policy_restricts_nothing():
    b = tenant_with((FAIL_APP, ("Mail.Read",)), (FAIL_APP_2, ("Mail.Read",)))
    b.policy(FAIL_APP, "deleted_group@contoso.com", valid=False)
    b.policy("*", "deleted_group@contoso.com", valid=False)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL, FAIL_APP_2: FAIL}


def test_ten001_pass_invalid_own_policy_but_valid_wildcard():
    b = tenant_with((PASS_APP, ("Mail.Read",)))
    b.policy(PASS_APP, "deleted_group@contoso.com", valid=False)
    b.policy("*", GROUP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten001_another_apps_policy_does_not_restrict():
    b = tenant_with((FAIL_APP, ("Mail.Read",)), (PASS_APP, ("Mail.Read",)))
    b.policy(PASS_APP, GROUP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL, PASS_APP: PASS}


def test_ten001_policy_app_id_matched_case_insensitively():
    b = tenant_with((PASS_APP, ("Mail.Read",)))
    b.policy(PASS_APP.upper(), GROUP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten001_fail_org_wide_rbac_mailbox_role_even_with_a_policy():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.policy(FAIL_APP, GROUP)
    b.role_assignment(FAIL_APP, "fail-org-wide", "Application Mail.Read")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


@pytest.mark.parametrize("role", ["Application Mail.ReadWrite", "Application Calendars.Read",
                                  "Application MailboxSettings.Read", "Application Contacts.ReadWrite",
                                  "Application MailboxFolder.Read", "Application MailboxItem.Read",
                                  "Application EWS.AccessAsApp", "Application Mail Full Access",
                                  "Application Exchange Full Access"])
def test_ten001_fail_org_wide_rbac_mailbox_role_without_entra_grant(role):
    b = tenant_with((FAIL_APP, ()))
    b.role_assignment(FAIL_APP, "fail-org-wide", role)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_pass_scoped_rbac_only():
    b = tenant_with((PASS_APP, ()), (PASS_APP_2, ()))
    b.role_assignment(PASS_APP, "pass-custom-scope", "Application Mail.ReadWrite", custom_scope="Support queues")
    b.role_assignment(PASS_APP_2, "pass-group-scope", "Application Mail.Read", group_scope=GROUP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS, PASS_APP_2: PASS}


def test_ten001_fail_scoped_rbac_does_not_narrow_an_entra_grant():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.role_assignment(FAIL_APP, "scoped", "Application Mail.Read", custom_scope="Support queues")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_pass_policy_plus_scoped_rbac():
    b = tenant_with((PASS_APP, ("Mail.Read",)))
    b.policy(PASS_APP, GROUP)
    b.role_assignment(PASS_APP, "scoped", "Application Mail.Read", custom_scope="Support queues")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten001_fail_one_org_wide_assignment_among_scoped_ones():
    b = tenant_with((FAIL_APP, ()))
    b.role_assignment(FAIL_APP, "scoped", "Application Mail.Read", custom_scope="Support queues")
    b.role_assignment(FAIL_APP, "org-wide", "Application Calendars.Read")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_no_finding_for_apps_without_mailbox_permissions():
    b = tenant_with((NONE_APP, ("User.Read.All", "Files.ReadWrite.All", "Directory.ReadWrite.All",
                                "Exchange:Exchange.ManageAsApp")), (FAIL_APP, ("Mail.Read",)))
    b.app("00000000-0000-4000-8000-0000000000bb", "nothing", requested=())
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_no_finding_for_requested_but_not_granted_mailbox_permission():
    b = SnapshotBuilder()
    b.app(NONE_APP, "requested only", requested=("Mail.Read",), granted=())
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {}


@pytest.mark.parametrize("owner", [MICROSOFT_TENANT, MICROSOFT_CORP])
def test_ten001_first_party_microsoft_apps_excluded(owner):
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.app(MS_APP, "Microsoft first party", requested=("Mail.Read",), application=False, owner_org=owner)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_first_party_microsoft_app_with_rbac_role_excluded():
    b = SnapshotBuilder()
    b.app(MS_APP, "Microsoft first party", requested=(), application=False, owner_org=MICROSOFT_TENANT)
    b.role_assignment(MS_APP, "org-wide", "Application Mail.Read")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {}


def test_ten001_first_party_microsoft_apps_included_when_asked():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.app(MS_APP, "Microsoft first party", requested=("Mail.Read",), application=False,
          owner_org=MICROSOFT_TENANT)
    b.app(MS_APP_2, "Microsoft corp app", requested=("Mail.ReadWrite",), application=False,
          owner_org=MICROSOFT_CORP)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep(include_microsoft_apps=True))
    assert results(out) == {FAIL_APP: FAIL, MS_APP: FAIL, MS_APP_2: FAIL}


def test_ten001_vendor_multi_tenant_app_is_swept():
    b = SnapshotBuilder()
    b.app(FAIL_APP, "Vendor app", requested=("Mail.Read",), application=False, owner_org=VENDOR_TENANT)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_integration_apps_are_swept_too():
    b = compliant_tenant()
    b.app(FAIL_APP, "Shadow reader", requested=("Mail.Read",))
    out = run_check(tenant.all_mailbox_apps_restricted, b, baseline())
    assert results(out) == {APP: PASS, FAIL_APP: FAIL}


def test_ten001_unrestricted_integration_app_fails():
    b = compliant_tenant()
    b.data("exchange.applicationAccessPolicies").clear()
    out = run_check(tenant.all_mailbox_apps_restricted, b, baseline())
    assert results(out) == {APP: FAIL}


def test_ten001_resource_is_the_lower_cased_app_id():
    b = tenant_with((FAIL_APP.upper(), ("Mail.Read",)))
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten001_skip_when_sweep_disabled():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep(enabled=False))
    assert results(out) == {TENANT: SKIP}


@pytest.mark.parametrize("spec", [tenant.all_mailbox_apps_restricted, tenant.no_unapproved_takeover,
                                  tenant.no_expiring_credentials, tenant.no_ews_full_access],
                         ids=lambda s: s.id)
def test_ten_sweep_disabled_skips_even_with_sections_missing(spec):
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    for name in ("graph.appRoleAssignments", "graph.applications", "graph.servicePrincipals"):
        b.drop(name)
    out = run_check(spec, b, sweep(enabled=False))
    assert results(out) == {TENANT: SKIP}


@pytest.mark.parametrize("section", ["graph.servicePrincipals", "graph.appRoleAssignments", "graph.resources"])
def test_ten001_error_graph_section_missing(section):
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.drop(section)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {TENANT: ERROR}
    assert section in out.only().message


def test_ten001_error_service_principals_only_looked_up_not_listed():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    b.queried("graph.servicePrincipals", [FAIL_APP])
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten001_error_assignment_role_id_missing_in_data():
    b = tenant_with((FAIL_APP, ("Mail.Read",)))
    del b.data("graph.appRoleAssignments")[0]["appRoleId"]
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten001_error_per_app_when_policies_failed():
    b = tenant_with((ERROR_APP, ("Mail.Read",)), (FAIL_APP, ()), (PASS_APP, ()))
    b.role_assignment(FAIL_APP, "org-wide", "Application Mail.Read")
    b.role_assignment(PASS_APP, "scoped", "Application Mail.Read", custom_scope="Support queues")
    b.fail("exchange.applicationAccessPolicies", "Get-ApplicationAccessPolicy failed")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    # RBAC-only apps need no policy to be judged; the Entra holder cannot be judged without them
    assert results(out) == {ERROR_APP: ERROR, FAIL_APP: FAIL, PASS_APP: PASS}
    assert "exchange.applicationAccessPolicies" in next(
        f for f in out.findings if f.resource == ERROR_APP).message


def test_ten001_error_policy_validity_missing_in_data():
    b = tenant_with((ERROR_APP, ("Mail.Read",)))
    b.policy(ERROR_APP, GROUP)
    del b.data("exchange.applicationAccessPolicies")[0]["IsValid"]
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {ERROR_APP: ERROR}


def test_ten001_role_assignments_failed_never_pass_an_app():
    b = tenant_with((ERROR_APP, ("Mail.Read",)), (FAIL_APP, ("Mail.Read",)))
    b.policy(ERROR_APP, GROUP)
    b.exo_service_principal(ERROR_APP)  # registered in Exchange: it may hold RBAC assignments
    b.fail("exchange.roleAssignments", "Get-ManagementRoleAssignment failed")
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    # policy-restricted through Entra, but an org-wide RBAC role cannot be ruled out: ERROR, not PASS;
    # the unrestricted Entra holder fails whatever RBAC says; the tenant-level ERROR says RBAC apps are unknown
    assert results(out) == {TENANT: ERROR, ERROR_APP: ERROR, FAIL_APP: FAIL}


def test_ten001_skip_when_exchange_transport_is_none():
    b = tenant_with((SKIP_APP, ("Mail.Read",)))
    exchange_off(b)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert results(out) == {TENANT: SKIP, SKIP_APP: SKIP}


def test_ten001_exchange_transport_none_never_passes_or_errors_an_app():
    b = tenant_with((SKIP_APP, ("Mail.Read",)), (NONE_APP, ("User.Read.All",)))
    exchange_off(b)
    out = run_check(tenant.all_mailbox_apps_restricted, b, sweep())
    assert {r: s for r, s in results(out).items() if r != TENANT} == {SKIP_APP: SKIP}


# -- TEN-002: no app holds directory-takeover permissions unless approved ---------------------------------


@pytest.mark.parametrize("perm", TAKEOVER)
def test_ten002_fail_every_takeover_permission(perm):
    out = run_check(tenant.no_unapproved_takeover, app_holding(FAIL_APP, perm), sweep())
    assert results(out) == {FAIL_APP: FAIL}
    assert perm in out.only().message


@pytest.mark.parametrize("perm", TAKEOVER)
def test_ten002_pass_every_takeover_permission_when_approved(perm):
    out = run_check(tenant.no_unapproved_takeover, app_holding(PASS_APP, perm), sweep(allowed_privileged=(PASS_APP,)))
    assert results(out) == {PASS_APP: PASS}


def test_ten002_fail_unapproved_takeover_permission():
    b = tenant_with((FAIL_APP, ("Application.ReadWrite.All",)), (FAIL_APP_2, ("RoleManagement.ReadWrite.Directory",)),
                    (FAIL_APP_3, ("AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All")))
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {FAIL_APP: FAIL, FAIL_APP_2: FAIL, FAIL_APP_3: FAIL}


def test_ten002_pass_when_in_allowed_privileged():
    b = tenant_with((PASS_APP, ("Directory.ReadWrite.All",)), (FAIL_APP, ("Directory.ReadWrite.All",)))
    out = run_check(tenant.no_unapproved_takeover, b, sweep(allowed_privileged=(PASS_APP,)))
    assert results(out) == {PASS_APP: PASS, FAIL_APP: FAIL}


def test_ten002_no_finding_without_takeover_permission():
    b = tenant_with((NONE_APP, ("Mail.Read", "User.Read.All", "Application.Read.All")),
                    (FAIL_APP, ("Application.ReadWrite.All",)))
    grant_any(b, NONE_APP, "Directory.Read.All")
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten002_no_finding_for_requested_but_not_granted():
    b = SnapshotBuilder()
    b.app(NONE_APP, "requested only", requested=("Application.ReadWrite.All",), granted=())
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {}


def test_ten002_allowed_privileged_app_without_takeover_gets_no_finding():
    b = tenant_with((NONE_APP, ("User.Read.All",)))
    out = run_check(tenant.no_unapproved_takeover, b, sweep(allowed_privileged=(NONE_APP,)))
    assert results(out) == {}


@pytest.mark.parametrize("owner", [MICROSOFT_TENANT, MICROSOFT_CORP])
def test_ten002_first_party_microsoft_apps_excluded(owner):
    b = SnapshotBuilder()
    b.app(MS_APP, "Microsoft first party", requested=("Directory.ReadWrite.All",), application=False,
          owner_org=owner)
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {}


def test_ten002_first_party_microsoft_apps_included_when_asked():
    b = SnapshotBuilder()
    b.app(MS_APP, "Microsoft first party", requested=("Directory.ReadWrite.All",), application=False,
          owner_org=MICROSOFT_CORP)
    out = run_check(tenant.no_unapproved_takeover, b, sweep(include_microsoft_apps=True))
    assert results(out) == {MS_APP: FAIL}


def test_ten002_integration_apps_and_vendor_apps_are_swept():
    b = compliant_tenant()
    b.grant(APP, "Application.ReadWrite.All")
    b.app(FAIL_APP, "Vendor", requested=("RoleManagement.ReadWrite.Directory",), application=False,
          owner_org=VENDOR_TENANT)
    out = run_check(tenant.no_unapproved_takeover, b, baseline())
    assert results(out) == {APP: FAIL, FAIL_APP: FAIL}


def test_ten002_skip_when_sweep_disabled():
    b = tenant_with((FAIL_APP, ("Directory.ReadWrite.All",)))
    out = run_check(tenant.no_unapproved_takeover, b, sweep(enabled=False))
    assert results(out) == {TENANT: SKIP}


@pytest.mark.parametrize("section", ["graph.servicePrincipals", "graph.appRoleAssignments", "graph.resources"])
def test_ten002_error_section_missing(section):
    b = tenant_with((FAIL_APP, ("Directory.ReadWrite.All",)))
    b.drop(section)
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {TENANT: ERROR}
    assert section in out.only().message


def test_ten002_error_section_failed():
    b = tenant_with((FAIL_APP, ("Directory.ReadWrite.All",)))
    b.fail("graph.appRoleAssignments")
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten002_error_assignment_principal_missing_in_data():
    b = tenant_with((FAIL_APP, ("Directory.ReadWrite.All",)))
    del b.data("graph.appRoleAssignments")[0]["principalId"]
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten002_error_resource_side_listing_never_asked_for():
    b = tenant_with((FAIL_APP, ("Directory.ReadWrite.All",)))
    b.queried("graph.appRoleAssignments", ["principal:" + FAIL_APP])
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten002_unaffected_by_exchange_transport_none():
    b = tenant_with((FAIL_APP, ("Directory.ReadWrite.All",)))
    exchange_off(b)
    out = run_check(tenant.no_unapproved_takeover, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


# -- TEN-003: no app's credentials run out within the warning window --------------------------------------


def registrations(*apps: tuple[str, list[dict[str, Any]], list[dict[str, Any]]]) -> SnapshotBuilder:
    b = SnapshotBuilder()
    for app_id, secrets, certs in apps:
        b.app(app_id, f"app {app_id[:4]}", requested=(), credentials=secrets, certificates=certs)
    return b


def test_ten003_pass_credential_valid_beyond_window():
    out = run_check(tenant.no_expiring_credentials, registrations((PASS_APP, [secret(end_days=200)], [])), sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten003_fail_credential_ends_within_window():
    out = run_check(tenant.no_expiring_credentials, registrations((FAIL_APP, [secret(end_days=10)], [])), sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten003_window_boundaries():
    b = registrations((FAIL_APP, [secret(end_days=29)], []), (FAIL_APP_2, [], [cert(end_days=30)]),
                      (PASS_APP, [], [cert(end_days=31)]))
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {FAIL_APP: FAIL, FAIL_APP_2: FAIL, PASS_APP: PASS}


def test_ten003_latest_ending_valid_credential_decides():
    b = registrations((PASS_APP, [secret(end_days=5, name="old")], [cert(end_days=400)]),
                      (FAIL_APP, [secret(end_days=5, name="old"), secret(end_days=20, name="newer")], []))
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {PASS_APP: PASS, FAIL_APP: FAIL}


def test_ten003_not_yet_valid_credential_does_not_count():
    b = registrations((FAIL_APP, [secret(end_days=10, name="current"),
                                  secret(start_days=5, end_days=400, name="future")], []))
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten003_no_finding_without_a_valid_credential():
    b = registrations((NONE_APP, [], []),
                      ("00000000-0000-4000-8000-0000000000bb", [secret(start_days=-400, end_days=-1)], []),
                      ("00000000-0000-4000-8000-0000000000cc", [], [cert(start_days=3, end_days=300)]),
                      ("00000000-0000-4000-8000-0000000000dd", [secret(start_days=-300, end_days=0)], []),
                      (FAIL_APP, [secret(end_days=1)], []))
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten003_credential_starting_now_is_valid():
    b = registrations((PASS_APP, [secret(start_days=0, end_days=300)], []))
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten003_uses_the_configured_warning_window():
    b = registrations((FAIL_APP, [secret(end_days=60)], []), (PASS_APP, [secret(end_days=120)], []))
    out = run_check(tenant.no_expiring_credentials, b,
                    baseline(policy=PolicyConfig(credential_warning_days=90)))
    assert results(out) == {FAIL_APP: FAIL, PASS_APP: PASS}


def test_ten003_reads_the_application_object_not_the_service_principal():
    b = SnapshotBuilder()
    b.app(NONE_APP, "vendor", requested=(), application=False, owner_org=VENDOR_TENANT,
          sp_credentials=[secret(end_days=3)])
    b.app(PASS_APP, "own", requested=(), credentials=[secret(end_days=300)], sp_credentials=[secret(end_days=3)])
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {PASS_APP: PASS}


def test_ten003_leaves_integration_apps_to_cred_002():
    """One problem, one finding: an integration's credentials are CRED-002's; the sweep names it, as SKIP."""
    b = compliant_tenant()
    b.app(FAIL_APP, "other", requested=(), credentials=[secret(end_days=7)])
    out = run_check(tenant.no_expiring_credentials, b, baseline())
    assert results(out) == {APP: SKIP, FAIL_APP: FAIL}
    assert "CRED-002 judges its credentials" in next(f.message for f in out.findings if f.resource == APP)


def test_ten003_skip_when_sweep_disabled():
    b = registrations((FAIL_APP, [secret(end_days=10)], []))
    out = run_check(tenant.no_expiring_credentials, b, sweep(enabled=False))
    assert results(out) == {TENANT: SKIP}


def test_ten003_error_applications_section_missing():
    b = registrations((FAIL_APP, [secret(end_days=10)], []))
    b.drop("graph.applications")
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {TENANT: ERROR}
    assert "graph.applications" in out.only().message


def test_ten003_error_applications_section_failed():
    b = registrations((FAIL_APP, [secret(end_days=10)], []))
    b.fail("graph.applications")
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten003_error_applications_only_looked_up_not_listed():
    b = registrations((FAIL_APP, [secret(end_days=10)], []))
    b.queried("graph.applications", [FAIL_APP])
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten003_error_end_date_missing_in_data():
    b = registrations((ERROR_APP, [secret(end_days=200)], []))
    del b.data("graph.applications")[0]["passwordCredentials"][0]["endDateTime"]
    out = run_check(tenant.no_expiring_credentials, b, sweep())
    assert results(out) == {TENANT: ERROR}


# -- TEN-004: no app still holds EWS full_access_as_app ----------------------------------------------------

EWS = "Exchange:full_access_as_app"


def test_ten004_fail_holder_of_full_access_as_app():
    b = tenant_with((FAIL_APP, (EWS,)), (FAIL_APP_2, (EWS, "Mail.Read")))
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {FAIL_APP: FAIL, FAIL_APP_2: FAIL}


def test_ten004_fail_even_when_restricted_by_policy():
    b = tenant_with((FAIL_APP, (EWS,)))
    b.policy(FAIL_APP, GROUP)
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten004_no_finding_without_it():
    b = tenant_with((NONE_APP, ("Mail.Read", "Exchange:Exchange.ManageAsApp", "Exchange:Mail.Read")),
                    (FAIL_APP, (EWS,)))
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {FAIL_APP: FAIL}


def test_ten004_no_finding_on_the_compliant_tenant():
    out = run_check(tenant.no_ews_full_access, compliant_tenant(), baseline())
    assert results(out) == {}


def test_ten004_no_finding_for_requested_but_not_granted():
    b = SnapshotBuilder()
    b.app(NONE_APP, "requested only", requested=(EWS,), granted=())
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {}


@pytest.mark.parametrize("owner", [MICROSOFT_TENANT, MICROSOFT_CORP])
def test_ten004_first_party_microsoft_apps_excluded(owner):
    b = SnapshotBuilder()
    b.app(MS_APP, "Microsoft first party", requested=(EWS,), application=False, owner_org=owner)
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {}


def test_ten004_first_party_microsoft_apps_included_when_asked():
    b = SnapshotBuilder()
    b.app(MS_APP, "Microsoft first party", requested=(EWS,), application=False, owner_org=MICROSOFT_TENANT)
    out = run_check(tenant.no_ews_full_access, b, sweep(include_microsoft_apps=True))
    assert results(out) == {MS_APP: FAIL}


def test_ten004_integration_apps_are_swept_too():
    b = compliant_tenant()
    b.grant(APP, EWS)
    out = run_check(tenant.no_ews_full_access, b, baseline())
    assert results(out) == {APP: FAIL}


def test_ten004_skip_when_sweep_disabled():
    b = tenant_with((FAIL_APP, (EWS,)))
    out = run_check(tenant.no_ews_full_access, b, sweep(enabled=False))
    assert results(out) == {TENANT: SKIP}


@pytest.mark.parametrize("section", ["graph.servicePrincipals", "graph.appRoleAssignments", "graph.resources"])
def test_ten004_error_section_missing(section):
    b = tenant_with((FAIL_APP, (EWS,)))
    b.drop(section)
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {TENANT: ERROR}
    assert section in out.only().message


def test_ten004_error_section_failed():
    b = tenant_with((FAIL_APP, (EWS,)))
    b.fail("graph.appRoleAssignments")
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {TENANT: ERROR}


def test_ten004_error_exchange_resource_roles_missing_in_data():
    b = tenant_with((FAIL_APP, (EWS,)))
    exo = next(r for r in b.data("graph.resources") if r["displayName"] == "Office 365 Exchange Online")
    del exo["appRoles"]
    out = run_check(tenant.no_ews_full_access, b, sweep())
    assert results(out) == {TENANT: ERROR}
