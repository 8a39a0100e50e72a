"""APP-001, PERM-001..004, CONSENT-001..002 and OWN-001, derived from the catalog (docs/checks.md).

Objects are named for the verdict they must get (`pass-...`, `fail-...`); every test asserts the exact
resources and statuses. Only Graph data matters here, except CONSENT-001 for `rbac` (Exchange RBAC).
"""

from __future__ import annotations

from typing import Any

import pytest

from auditor.checks import app
from auditor.checks.base import CheckSpec
from auditor.models.baseline import Integration
from auditor.models.findings import Status
from tests.builders import (
    APP,
    EXO,
    GRAPH,
    OTHER_APP,
    TENANT_ID,
    SnapshotBuilder,
    _id,
    baseline,
    compliant_tenant,
    integration,
    run_check,
    sp_id,
    sp_owner,
    user_owner,
    when,
)

PASS, FAIL, ERROR, SKIP = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP
VENDOR_TENANT = "99999999-8888-7777-6666-555555555555"
PUBLISHER = "registered in the publisher's tenant"
EXO_NAME = "Office 365 Exchange Online"
RBAC = dict(access_model="rbac", scope_group="", permissions=("Mail.ReadWrite", "Mail.Send"))
MAIL_SEND_DELEGATED = "e383f46e-2787-4529-855e-0e479a3ffac0"  # Graph's delegated Mail.Send scope id

DEPENDENT = (app.permissions_requested, app.no_extra_permissions, app.no_takeover_permissions,
             app.no_delegated_grants, app.consent_granted, app.grants_declared, app.owners_approved)
VENDOR_SKIPS = (app.permissions_requested, app.grants_declared, app.owners_approved)
VENDOR_RUNS = (app.no_extra_permissions, app.no_takeover_permissions, app.no_delegated_grants, app.consent_granted)


# -- helpers -----------------------------------------------------------------------------------------------

def app_object(b: SnapshotBuilder, app_id: str = APP) -> dict[str, Any]:
    return next(a for a in b.data("graph.applications") if a["appId"] == app_id)


def sp_object(b: SnapshotBuilder, app_id: str = APP) -> dict[str, Any]:
    return next(s for s in b.data("graph.servicePrincipals") if s["appId"] == app_id)


def role_id(b: SnapshotBuilder, resource_app_id: str, value: str) -> str:
    """The id of `value` among the resource's appRoles, adding the role when the builder lacks it."""
    resource = next(r for r in b.data("graph.resources") if r["appId"] == resource_app_id)
    for role in resource["appRoles"]:
        if role["value"] == value:
            return role["id"]
    rid = _id("role", resource_app_id, value)
    resource["appRoles"].append({"id": rid, "value": value})
    return rid


def request(b: SnapshotBuilder, value: str, resource: str = GRAPH, kind: str = "Role", app_id: str = APP,
            rid: str | None = None) -> None:
    """Adds a requiredResourceAccess entry to the application object."""
    rid = rid or role_id(b, resource, value)
    rra = app_object(b, app_id)["requiredResourceAccess"]
    entry = next((e for e in rra if e["resourceAppId"] == resource), None)
    if entry is None:
        entry = {"resourceAppId": resource, "resourceAccess": []}
        rra.append(entry)
    entry["resourceAccess"].append({"id": rid, "type": kind})


def grant(b: SnapshotBuilder, value: str, resource: str = GRAPH, app_id: str = APP) -> None:
    """Adds an appRoleAssignment of `value` on `resource` to the app's service principal."""
    b.data("graph.appRoleAssignments").append({
        "id": _id("ara", app_id, resource, value), "principalId": sp_id(app_id), "principalType": "ServicePrincipal",
        "resourceId": sp_id(resource), "appRoleId": role_id(b, resource, value), "createdDateTime": when(-10)})


def delegated(b: SnapshotBuilder, scope: str, *, resource: str = GRAPH, app_id: str = APP,
              consent: str = "AllPrincipals") -> None:
    b.data("graph.oauth2PermissionGrants").append({
        "id": _id("grant", app_id, resource, scope, consent), "clientId": sp_id(app_id), "consentType": consent,
        "principalId": None if consent == "AllPrincipals" else _id("user", "someone"), "resourceId": sp_id(resource),
        "scope": scope})


def add_resource(b: SnapshotBuilder, app_id: str, name: str, roles: dict[str, str]) -> None:
    """A third resource service principal (neither Graph nor Exchange)."""
    b.data("graph.resources").append({"id": sp_id(app_id), "appId": app_id, "displayName": name,
                                      "appRoles": [{"id": rid, "value": v} for v, rid in roles.items()]})


def vendor_tenant(**kwargs: Any) -> SnapshotBuilder:
    """A multi-tenant app published by another tenant: a service principal here, no application object."""
    b = SnapshotBuilder()
    b.app(APP, application=False, owner_org=VENDOR_TENANT, **kwargs)
    return b


def run(spec: CheckSpec, b: SnapshotBuilder, *integrations: Integration) -> Any:
    return run_check(spec, b, baseline(*integrations) if integrations else None)


# Ways APP-001 fails: the dependent checks SKIP in each.
def no_service_principal() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, service_principal=False, owners=[user_owner("owner@contoso.com")])
    return b


def disabled_service_principal() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, enabled=False, owners=[user_owner("owner@contoso.com")])
    return b


def application_object_gone() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, application=False, owner_org=TENANT_ID)
    return b


def disabled_vendor_app() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, application=False, owner_org=VENDOR_TENANT, enabled=False)
    return b


APP_001_FAILURES = (no_service_principal, disabled_service_principal, application_object_gone, disabled_vendor_app)


# -- APP-001 -----------------------------------------------------------------------------------------------

def test_app001_pass_application_object_and_enabled_service_principal():
    assert run(app.app_exists, compliant_tenant()).by_resource() == {APP: PASS}


def test_app001_pass_vendor_app_without_application_object_says_so():
    out = run(app.app_exists, vendor_tenant())
    assert out.by_resource() == {APP: PASS}
    assert PUBLISHER in out.only().message


@pytest.mark.parametrize("make", APP_001_FAILURES, ids=lambda f: f.__name__)
def test_app001_fail(make):
    out = run(app.app_exists, make())
    assert out.by_resource() == {APP: FAIL}
    assert out.only().message


def test_app001_fail_another_apps_service_principal_does_not_count():
    b = SnapshotBuilder()
    b.app(OTHER_APP)
    assert run(app.app_exists, b).by_resource() == {APP: FAIL}


def test_app001_fail_owner_organisation_compared_as_guid_whatever_its_case():
    b = SnapshotBuilder()
    b.app(APP, application=False, owner_org=TENANT_ID.upper())
    assert run(app.app_exists, b).by_resource() == {APP: FAIL}


def test_app001_one_finding_per_integration_named_by_app_id():
    b = compliant_tenant()
    b.app(OTHER_APP, "Archiver", enabled=False)
    out = run(app.app_exists, b, integration(), integration(name="Archiver", app_id=OTHER_APP))
    assert out.by_resource() == {APP: PASS, OTHER_APP: FAIL}


def _drop_sps(b): b.drop("graph.servicePrincipals")
def _fail_sps(b): b.fail("graph.servicePrincipals")
def _drop_apps(b): b.drop("graph.applications")
def _fail_apps(b): b.fail("graph.applications")
def _sp_not_asked(b): b.queried("graph.servicePrincipals", [OTHER_APP])
def _app_not_asked(b): b.queried("graph.applications", [OTHER_APP])
def _sp_item_error(b): b.item_error("graph.servicePrincipals", APP, "HTTP 500 for this app")
def _no_account_enabled(b): del sp_object(b)["accountEnabled"]


@pytest.mark.parametrize(("damage", "section"), [
    (_drop_sps, "graph.servicePrincipals"), (_fail_sps, "graph.servicePrincipals"),
    (_drop_apps, "graph.applications"), (_fail_apps, "graph.applications"),
    (_sp_not_asked, "graph.servicePrincipals"), (_app_not_asked, "graph.applications"),
    (_sp_item_error, "graph.servicePrincipals"), (_no_account_enabled, "accountEnabled"),
], ids=lambda v: getattr(v, "__name__", v))
def test_app001_error_when_data_is_missing(damage, section):
    b = compliant_tenant()
    damage(b)
    out = run(app.app_exists, b)
    assert out.by_resource() == {APP: ERROR}
    assert section in out.only().message


def test_app001_error_without_owner_organisation_when_the_application_object_is_absent():
    b = vendor_tenant()
    del sp_object(b)["appOwnerOrganizationId"]
    assert run(app.app_exists, b).by_resource() == {APP: ERROR}


def test_app001_error_vendor_app_when_applications_were_not_collected():
    b = vendor_tenant()
    b.fail("graph.applications")
    assert run(app.app_exists, b).by_resource() == {APP: ERROR}


# -- dependent checks and APP-001 ------------------------------------------------------------------------

@pytest.mark.parametrize("make", APP_001_FAILURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("spec", DEPENDENT, ids=lambda s: s.id)
def test_dependent_checks_skip_when_app001_fails(spec, make):
    out = run(spec, make())
    assert out.by_resource() == {APP: SKIP}
    assert PUBLISHER not in out.only().message


@pytest.mark.parametrize("make", APP_001_FAILURES, ids=lambda f: f.__name__)
def test_consent001_rbac_skips_when_app001_fails(make):
    b = make()
    b.role_assignment(APP, "pass-scoped", "Application Mail.ReadWrite", custom_scope="queues")
    assert run(app.consent_granted, b, integration(**RBAC)).by_resource() == {APP: SKIP}


@pytest.mark.parametrize("spec", VENDOR_SKIPS, ids=lambda s: s.id)
def test_registration_checks_skip_for_vendor_app(spec):
    out = run(spec, vendor_tenant())
    assert out.by_resource() == {APP: SKIP}
    assert PUBLISHER in out.only().message


@pytest.mark.parametrize("spec", VENDOR_RUNS, ids=lambda s: s.id)
def test_grant_checks_still_run_for_vendor_app(spec):
    assert run(spec, vendor_tenant()).by_resource() == {APP: PASS}


@pytest.mark.parametrize("spec", DEPENDENT, ids=lambda s: s.id)
@pytest.mark.parametrize("damage", [_drop_sps, _fail_sps, _sp_not_asked], ids=lambda f: f.__name__)
def test_dependent_checks_error_when_app001_cannot_be_judged(spec, damage):
    b = compliant_tenant()
    damage(b)
    out = run(spec, b)
    assert out.by_resource() == {APP: ERROR}
    assert "graph.servicePrincipals" in out.only().message


# -- PERM-001 ----------------------------------------------------------------------------------------------

def test_perm001_pass_every_baseline_permission_requested():
    assert run(app.permissions_requested, compliant_tenant()).by_resource() == {APP: PASS}


@pytest.mark.parametrize("written", [f"{EXO_NAME}:full_access_as_app", f"{EXO}:full_access_as_app"])
def test_perm001_pass_exchange_permission_by_display_name_or_app_id(written):
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite", "Exchange:full_access_as_app"))
    out = run(app.permissions_requested, b, integration(permissions=("Mail.ReadWrite", written)))
    assert out.by_resource() == {APP: PASS}


def test_perm001_pass_permission_of_a_third_resource():
    b = SnapshotBuilder()
    sharepoint = "00000003-0000-0ff1-ce00-000000000000"
    add_resource(b, sharepoint, "Office 365 SharePoint Online", {"Sites.Selected": _id("role", "spo")})
    b.app(APP, requested=("Mail.ReadWrite",))
    request(b, "Sites.Selected", resource=sharepoint)
    base = integration(permissions=("Mail.ReadWrite", "Office 365 SharePoint Online:Sites.Selected"))
    assert run(app.permissions_requested, b, base).by_resource() == {APP: PASS}


def test_perm001_fail_granted_but_not_requested():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite",), granted=("Mail.ReadWrite", "Mail.Send"))
    out = run(app.permissions_requested, b)
    assert out.by_resource() == {APP: FAIL}
    assert "Mail.Send" in out.only().message


def test_perm001_fail_declared_only_as_delegated_scope():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite",))
    request(b, "Mail.Send", kind="Scope", rid=MAIL_SEND_DELEGATED)
    assert run(app.permissions_requested, b).by_resource() == {APP: FAIL}


def test_perm001_fail_bare_name_is_graph_not_exchange_legacy_role():
    b = SnapshotBuilder()
    b.app(APP, requested=("Exchange:Mail.Read",))
    assert run(app.permissions_requested, b, integration(permissions=("Mail.Read",))).by_resource() == {APP: FAIL}


def test_perm001_fail_exchange_permission_missing():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite",))
    base = integration(permissions=("Mail.ReadWrite", f"{EXO_NAME}:full_access_as_app"))
    out = run(app.permissions_requested, b, base)
    assert out.by_resource() == {APP: FAIL}
    assert "full_access_as_app" in out.only().message


def test_perm001_skip_for_rbac():
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=())
    assert run(app.permissions_requested, b, integration(**RBAC)).by_resource() == {APP: SKIP}


def test_perm001_skip_for_rbac_needs_no_data():
    b = compliant_tenant()
    b.fail("graph.applications")
    assert run(app.permissions_requested, b, integration(**RBAC)).by_resource() == {APP: SKIP}


def _no_rra(b): del app_object(b)["requiredResourceAccess"]
def _fail_resources(b): b.fail("graph.resources")
def _drop_resources(b): b.drop("graph.resources")
def _request_uncollected_resource(b): request(b, "Sites.Selected", resource="00000003-0000-0ff1-ce00-000000000000",
                                               rid=_id("role", "spo"))


@pytest.mark.parametrize("damage", [_drop_apps, _fail_apps, _app_not_asked, _no_rra, _fail_resources,
                                    _request_uncollected_resource], ids=lambda f: f.__name__)
def test_perm001_error_when_data_is_missing(damage):
    b = compliant_tenant()
    damage(b)
    assert run(app.permissions_requested, b).by_resource() == {APP: ERROR}


# -- PERM-002 ----------------------------------------------------------------------------------------------

def test_perm002_pass_exactly_the_baseline():
    assert run(app.no_extra_permissions, compliant_tenant()).by_resource() == {APP: PASS}


def test_perm002_pass_subset_of_the_baseline():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite",))
    assert run(app.no_extra_permissions, b).by_resource() == {APP: PASS}


def test_perm002_pass_extra_covered_by_allowed_extra():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite", "Mail.Send", "User.Read.All"))
    out = run(app.no_extra_permissions, b, integration(allowed_extra=("User.Read.All",)))
    assert out.by_resource() == {APP: PASS}


@pytest.mark.parametrize("written", [f"{EXO_NAME}:full_access_as_app", f"{EXO}:full_access_as_app"])
def test_perm002_pass_exchange_permission_allowed_by_display_name_or_app_id(written):
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite", "Mail.Send", "Exchange:full_access_as_app"))
    assert run(app.no_extra_permissions, b, integration(allowed_extra=(written,))).by_resource() == {APP: PASS}


def test_perm002_pass_delegated_grants_are_left_to_perm004():
    b = compliant_tenant()
    delegated(b, "Mail.Read Mail.Send")
    assert run(app.no_extra_permissions, b).by_resource() == {APP: PASS}


def test_perm002_fail_extra_requested_but_not_granted():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite", "Mail.Send", "User.Read.All"), granted=("Mail.ReadWrite", "Mail.Send"))
    out = run(app.no_extra_permissions, b)
    assert out.by_resource() == {APP: FAIL}
    assert "User.Read.All" in out.only().message


def test_perm002_fail_extra_granted_out_of_band():
    b = compliant_tenant()
    grant(b, "Files.ReadWrite.All")
    out = run(app.no_extra_permissions, b)
    assert out.by_resource() == {APP: FAIL}
    assert "Files.ReadWrite.All" in out.only().message


def test_perm002_fail_bare_allowed_name_does_not_cover_exchange_role():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite", "Mail.Send", "Exchange:full_access_as_app"))
    assert run(app.no_extra_permissions, b, integration(allowed_extra=("full_access_as_app",))).by_resource() == {
        APP: FAIL}


def test_perm002_fail_exchange_legacy_mail_read_is_not_graph_mail_read():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite", "Mail.Send", "Exchange:Mail.Read"))
    assert run(app.no_extra_permissions, b, integration(allowed_extra=("Mail.Read",))).by_resource() == {APP: FAIL}


def test_perm002_fail_only_for_the_integration_holding_the_extra():
    b = compliant_tenant()
    b.app(OTHER_APP, "Archiver", requested=("Mail.Read", "User.Read.All"))
    archiver = integration(name="Archiver", app_id=OTHER_APP, permissions=("Mail.Read",))
    assert run(app.no_extra_permissions, b, integration(), archiver).by_resource() == {APP: PASS, OTHER_APP: FAIL}


def rbac_app(**kwargs: Any) -> SnapshotBuilder:
    """An rbac integration's app: no Entra mailbox grant, scoped Exchange role assignments."""
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=(), **kwargs)
    b.role_assignment(APP, "cc-readwrite", "Application Mail.ReadWrite", custom_scope="queues")
    b.role_assignment(APP, "cc-send", "Application Mail.Send", custom_scope="queues")
    return b


def test_perm002_rbac_pass_without_entra_grants():
    assert run(app.no_extra_permissions, rbac_app(), integration(**RBAC)).by_resource() == {APP: PASS}


def test_perm002_rbac_pass_organisation_wide_role_is_left_to_scope006():
    b = rbac_app()
    b.role_assignment(APP, "org-wide", "Application Mail.Read")
    assert run(app.no_extra_permissions, b, integration(**RBAC)).by_resource() == {APP: PASS}


def test_perm002_rbac_pass_allowed_non_mailbox_permission():
    b = rbac_app()
    request(b, "User.Read.All")
    grant(b, "User.Read.All")
    assert run(app.no_extra_permissions, b, integration(**RBAC, allowed_extra=("User.Read.All",))).by_resource() == {
        APP: PASS}


def test_perm002_rbac_fail_non_mailbox_permission_outside_baseline():
    b = rbac_app()
    grant(b, "User.Read.All")
    assert run(app.no_extra_permissions, b, integration(**RBAC)).by_resource() == {APP: FAIL}


GRAPH_MAILBOX_DATA = ("Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.ReadWrite", "Mail.Send",
                      "MailboxSettings.Read", "MailboxSettings.ReadWrite", "Calendars.Read", "Calendars.ReadWrite",
                      "Contacts.Read", "Contacts.ReadWrite")
EXCHANGE_MAILBOX_DATA = ("full_access_as_app", "Mail.Read", "Mail.ReadWrite", "Mail.Send", "Calendars.ReadWrite",
                         "Contacts.Read")


@pytest.mark.parametrize("value", GRAPH_MAILBOX_DATA)
@pytest.mark.parametrize("how", ["requested", "granted"])
def test_perm002_rbac_fail_any_graph_mailbox_permission_even_when_in_the_baseline(value, how):
    b = rbac_app()
    (request if how == "requested" else grant)(b, value)
    out = run(app.no_extra_permissions, b, integration(**RBAC, allowed_extra=(value,)))
    assert out.by_resource() == {APP: FAIL}
    assert value in out.only().message


@pytest.mark.parametrize("value", EXCHANGE_MAILBOX_DATA)
def test_perm002_rbac_fail_any_exchange_mailbox_permission_even_when_allowed(value):
    b = rbac_app()
    grant(b, value, resource=EXO)
    out = run(app.no_extra_permissions, b, integration(**RBAC, allowed_extra=(f"{EXO_NAME}:{value}",)))
    assert out.by_resource() == {APP: FAIL}


def test_perm002_rbac_pass_exchange_manage_as_app_is_not_mailbox_data():
    b = rbac_app()
    grant(b, "Exchange.ManageAsApp", resource=EXO)
    base = integration(**RBAC, allowed_extra=(f"{EXO_NAME}:Exchange.ManageAsApp",))
    assert run(app.no_extra_permissions, b, base).by_resource() == {APP: PASS}


def test_perm002_fail_vendor_app_granted_beyond_baseline():
    b = vendor_tenant()
    grant(b, "User.Read.All")
    assert run(app.no_extra_permissions, b).by_resource() == {APP: FAIL}


def _fail_assignments(b): b.fail("graph.appRoleAssignments")
def _drop_assignments(b): b.drop("graph.appRoleAssignments")
def _assignments_not_asked(b): b.queried("graph.appRoleAssignments", [])
def _grant_on_uncollected_resource(b):
    b.data("graph.appRoleAssignments").append({
        "id": "x", "principalId": sp_id(APP), "principalType": "ServicePrincipal",
        "resourceId": sp_id("00000003-0000-0ff1-ce00-000000000000"), "appRoleId": _id("role", "spo"),
        "createdDateTime": when(-1)})
def _assignment_without_role(b): del b.data("graph.appRoleAssignments")[0]["appRoleId"]


GRANT_DAMAGE = [_fail_assignments, _drop_assignments, _assignments_not_asked, _grant_on_uncollected_resource,
                _assignment_without_role, _fail_resources, _drop_resources]


@pytest.mark.parametrize("damage", [*GRANT_DAMAGE, _fail_apps, _request_uncollected_resource, _no_rra],
                         ids=lambda f: f.__name__)
def test_perm002_error_when_data_is_missing(damage):
    b = compliant_tenant()
    damage(b)
    assert run(app.no_extra_permissions, b).by_resource() == {APP: ERROR}


# -- PERM-003 ----------------------------------------------------------------------------------------------

TAKEOVER = ("RoleManagement.ReadWrite.Directory", "AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All",
            "Directory.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All", "Policy.ReadWrite.PermissionGrant",
            "Policy.ReadWrite.ConditionalAccess", "UserAuthenticationMethod.ReadWrite.All", "Group.ReadWrite.All",
            "GroupMember.ReadWrite.All", "User.ReadWrite.All")


def test_perm003_pass_no_takeover_permission():
    assert run(app.no_takeover_permissions, compliant_tenant()).by_resource() == {APP: PASS}


def test_perm003_pass_read_only_directory_permission():
    b = compliant_tenant()
    request(b, "Application.Read.All")
    grant(b, "Application.Read.All")
    assert run(app.no_takeover_permissions, b).by_resource() == {APP: PASS}


@pytest.mark.parametrize("value", TAKEOVER)
def test_perm003_fail_takeover_granted_even_when_allowed_extra(value):
    b = compliant_tenant()
    grant(b, value)
    out = run(app.no_takeover_permissions, b, integration(allowed_extra=(value,)))
    assert out.by_resource() == {APP: FAIL}
    assert value in out.only().message


def test_perm003_fail_takeover_requested_but_not_granted():
    b = compliant_tenant()
    request(b, "RoleManagement.ReadWrite.Directory")
    assert run(app.no_takeover_permissions, b).by_resource() == {APP: FAIL}


def test_perm003_fail_vendor_app_granted_takeover():
    b = vendor_tenant()
    grant(b, "AppRoleAssignment.ReadWrite.All")
    assert run(app.no_takeover_permissions, b).by_resource() == {APP: FAIL}


@pytest.mark.parametrize("damage", [*GRANT_DAMAGE, _fail_apps], ids=lambda f: f.__name__)
def test_perm003_error_when_data_is_missing(damage):
    b = compliant_tenant()
    damage(b)
    assert run(app.no_takeover_permissions, b).by_resource() == {APP: ERROR}


# -- PERM-004 ----------------------------------------------------------------------------------------------

def test_perm004_pass_no_delegated_grant():
    assert run(app.no_delegated_grants, compliant_tenant()).by_resource() == {APP: PASS}


def test_perm004_pass_portal_default_sign_in_scopes():
    b = compliant_tenant()
    delegated(b, "User.Read openid profile email offline_access")
    assert run(app.no_delegated_grants, b).by_resource() == {APP: PASS}


def test_perm004_pass_another_apps_delegated_grant():
    b = compliant_tenant()
    b.app(OTHER_APP, "Other")
    delegated(b, "Mail.Read", app_id=OTHER_APP)
    assert run(app.no_delegated_grants, b).by_resource() == {APP: PASS}


def test_perm004_fail_mailbox_scope_beside_user_read():
    b = compliant_tenant()
    delegated(b, "User.Read Mail.Read")
    out = run(app.no_delegated_grants, b)
    assert out.by_resource() == {APP: FAIL}
    assert "Mail.Read" in out.only().message


def test_perm004_fail_non_mailbox_scope():
    b = compliant_tenant()
    delegated(b, "Files.Read")
    assert run(app.no_delegated_grants, b).by_resource() == {APP: FAIL}


def test_perm004_fail_single_user_consent():
    b = compliant_tenant()
    delegated(b, "User.Read")
    delegated(b, "Mail.Send", consent="Principal")
    assert run(app.no_delegated_grants, b).by_resource() == {APP: FAIL}


def test_perm004_fail_grant_on_exchange_resource():
    b = compliant_tenant()
    delegated(b, "EWS.AccessAsUser.All", resource=EXO)
    assert run(app.no_delegated_grants, b).by_resource() == {APP: FAIL}


def test_perm004_fail_vendor_app():
    b = vendor_tenant()
    delegated(b, "Mail.ReadWrite")
    assert run(app.no_delegated_grants, b).by_resource() == {APP: FAIL}


def _fail_grants(b): b.fail("graph.oauth2PermissionGrants")
def _drop_grants(b): b.drop("graph.oauth2PermissionGrants")
def _grants_not_asked(b): b.queried("graph.oauth2PermissionGrants", [])
def _grant_without_scope(b):
    delegated(b, "User.Read")
    del b.data("graph.oauth2PermissionGrants")[0]["scope"]


@pytest.mark.parametrize("damage", [_fail_grants, _drop_grants, _grants_not_asked, _grant_without_scope],
                         ids=lambda f: f.__name__)
def test_perm004_error_when_data_is_missing(damage):
    b = compliant_tenant()
    damage(b)
    out = run(app.no_delegated_grants, b)
    assert out.by_resource() == {APP: ERROR}
    assert "oauth2PermissionGrant" in out.only().message


# -- CONSENT-001 -------------------------------------------------------------------------------------------

def test_consent001_pass_every_baseline_permission_granted():
    assert run(app.consent_granted, compliant_tenant()).by_resource() == {APP: PASS}


@pytest.mark.parametrize("written", [f"{EXO_NAME}:full_access_as_app", f"{EXO}:full_access_as_app"])
def test_consent001_pass_exchange_permission_by_display_name_or_app_id(written):
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite", "Exchange:full_access_as_app"))
    assert run(app.consent_granted, b, integration(permissions=("Mail.ReadWrite", written))).by_resource() == {
        APP: PASS}


def test_consent001_fail_requested_but_not_granted():
    b = SnapshotBuilder()
    b.app(APP, granted=("Mail.ReadWrite",))
    out = run(app.consent_granted, b)
    assert out.by_resource() == {APP: FAIL}
    assert "Mail.Send" in out.only().message


def test_consent001_fail_granted_to_another_app_only():
    b = SnapshotBuilder()
    b.app(APP, granted=())
    b.app(OTHER_APP, "Other")
    assert run(app.consent_granted, b).by_resource() == {APP: FAIL}


def test_consent001_fail_bare_name_not_satisfied_by_exchange_legacy_role():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.Read",), granted=("Exchange:Mail.Read",))
    assert run(app.consent_granted, b, integration(permissions=("Mail.Read",))).by_resource() == {APP: FAIL}


def test_consent001_fail_policy_model_ignores_rbac_assignments():
    b = SnapshotBuilder()
    b.app(APP, granted=("Mail.ReadWrite",))
    b.role_assignment(APP, "fail-not-entra", "Application Mail.Send", custom_scope="queues")
    assert run(app.consent_granted, b).by_resource() == {APP: FAIL}


def test_consent001_fail_vendor_app_missing_consent():
    b = vendor_tenant(granted=("Mail.ReadWrite",))
    assert run(app.consent_granted, b).by_resource() == {APP: FAIL}


def test_consent001_rbac_pass_role_assignments_grant_every_permission():
    assert run(app.consent_granted, rbac_app(), integration(**RBAC)).by_resource() == {APP: PASS}


def test_consent001_rbac_pass_organisation_wide_assignment_still_grants():
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=())
    b.role_assignment(APP, "org-readwrite", "Application Mail.ReadWrite")
    b.role_assignment(APP, "org-send", "Application Mail.Send")
    assert run(app.consent_granted, b, integration(**RBAC)).by_resource() == {APP: PASS}


def test_consent001_rbac_fail_permission_without_role_assignment():
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=())
    b.role_assignment(APP, "cc-readwrite", "Application Mail.ReadWrite", custom_scope="queues")
    out = run(app.consent_granted, b, integration(**RBAC))
    assert out.by_resource() == {APP: FAIL}
    assert "Mail.Send" in out.only().message


def test_consent001_rbac_fail_entra_grant_does_not_count():
    b = SnapshotBuilder()
    b.app(APP)  # Entra grants of both, no RBAC assignment
    assert run(app.consent_granted, b, integration(**RBAC)).by_resource() == {APP: FAIL}


def test_consent001_rbac_fail_assignment_of_another_app():
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=())
    b.app(OTHER_APP, "Other", requested=(), granted=())
    b.exo_service_principal(APP)
    b.role_assignment(OTHER_APP, "other-readwrite", "Application Mail.ReadWrite", custom_scope="queues")
    b.role_assignment(OTHER_APP, "other-send", "Application Mail.Send", custom_scope="queues")
    assert run(app.consent_granted, b, integration(**RBAC)).by_resource() == {APP: FAIL}


def test_consent001_rbac_fail_full_access_role_does_not_grant_a_named_permission():
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=())
    b.role_assignment(APP, "full", "Application Mail Full Access", custom_scope="queues")
    assert run(app.consent_granted, b, integration(**RBAC)).by_resource() == {APP: FAIL}


def test_consent001_rbac_pass_full_access_role_named_in_the_baseline():
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=())
    b.role_assignment(APP, "full", "Application Mail Full Access", custom_scope="queues")
    base = integration(**{**RBAC, "permissions": ("Application Mail Full Access",)})
    assert run(app.consent_granted, b, base).by_resource() == {APP: PASS}


@pytest.mark.parametrize("damage", GRANT_DAMAGE, ids=lambda f: f.__name__)
def test_consent001_error_when_data_is_missing(damage):
    b = compliant_tenant()
    damage(b)
    assert run(app.consent_granted, b).by_resource() == {APP: ERROR}


def _fail_roles(b): b.fail("exchange.roleAssignments")
def _drop_roles(b): b.drop("exchange.roleAssignments")
def _fail_exo_sps(b): b.fail("exchange.servicePrincipals")
def _role_without_role(b): del b.data("exchange.roleAssignments")[0]["Role"]


@pytest.mark.parametrize(("damage", "section"), [
    (_fail_roles, "exchange.roleAssignments"), (_drop_roles, "exchange.roleAssignments"),
    (_fail_exo_sps, "exchange.servicePrincipals"), (_role_without_role, "Role"),
], ids=lambda v: getattr(v, "__name__", v))
def test_consent001_rbac_error_when_exchange_data_is_missing(damage, section):
    b = rbac_app()
    damage(b)
    out = run(app.consent_granted, b, integration(**RBAC))
    assert out.by_resource() == {APP: ERROR}
    assert section in out.only().message


def test_consent001_rbac_skip_when_exchange_collection_is_off():
    b = rbac_app()
    b.collection["exchange_transport"] = "none"
    for name in ("exchange.roleAssignments", "exchange.servicePrincipals"):
        b.sections[name].update(status="not_collected", data=None)
    assert run(app.consent_granted, b, integration(**RBAC)).by_resource() == {APP: SKIP}


# -- CONSENT-002 -------------------------------------------------------------------------------------------

def test_consent002_pass_every_grant_declared():
    assert run(app.grants_declared, compliant_tenant()).by_resource() == {APP: PASS}


def test_consent002_pass_declared_but_not_granted():
    b = SnapshotBuilder()
    b.app(APP, granted=("Mail.ReadWrite",))
    assert run(app.grants_declared, b).by_resource() == {APP: PASS}


def test_consent002_fail_grant_made_out_of_band_even_if_allowed():
    b = compliant_tenant()
    grant(b, "User.Read.All")
    out = run(app.grants_declared, b, integration(allowed_extra=("User.Read.All",)))
    assert out.by_resource() == {APP: FAIL}
    assert "User.Read.All" in out.only().message


def test_consent002_fail_app_role_declared_only_as_delegated_scope():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite",), granted=("Mail.ReadWrite", "Mail.Send"))
    request(b, "Mail.Send", kind="Scope", rid=MAIL_SEND_DELEGATED)
    assert run(app.grants_declared, b).by_resource() == {APP: FAIL}


def test_consent002_fail_exchange_grant_undeclared():
    b = compliant_tenant()
    grant(b, "full_access_as_app", resource=EXO)
    out = run(app.grants_declared, b)
    assert out.by_resource() == {APP: FAIL}
    assert "full_access_as_app" in out.only().message


@pytest.mark.parametrize("damage", [*GRANT_DAMAGE, _drop_apps, _fail_apps, _no_rra], ids=lambda f: f.__name__)
def test_consent002_error_when_data_is_missing(damage):
    b = compliant_tenant()
    damage(b)
    assert run(app.grants_declared, b).by_resource() == {APP: ERROR}


# -- OWN-001 -----------------------------------------------------------------------------------------------

def with_owners(*owners: dict[str, Any]) -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, owners=list(owners))
    return b


def test_own001_pass_enabled_member_without_owner_list():
    b = with_owners(user_owner("pass-member@contoso.com"))
    assert run(app.owners_approved, b).by_resource() == {APP: PASS}


@pytest.mark.parametrize("approved", [None, (), ("someone@contoso.com",)])
def test_own001_pass_no_owners(approved):
    assert run(app.owners_approved, with_owners(), integration(owners=approved)).by_resource() == {APP: PASS}


def test_own001_pass_listed_by_upn_case_insensitively():
    b = with_owners(user_owner("Pass-Listed@Contoso.com"))
    out = run(app.owners_approved, b, integration(owners=("PASS-LISTED@contoso.COM",)))
    assert out.by_resource() == {APP: PASS}


def test_own001_pass_listed_by_mail_when_upn_differs():
    owner = {**user_owner("pass-upn@contoso.onmicrosoft.com"), "mail": "Pass.Mail@contoso.com"}
    out = run(app.owners_approved, with_owners(owner), integration(owners=("pass.mail@CONTOSO.com",)))
    assert out.by_resource() == {APP: PASS}


def test_own001_pass_upn_listed_when_mail_is_null():
    owner = {**user_owner("pass-nomail@contoso.com"), "mail": None}
    out = run(app.owners_approved, with_owners(owner), integration(owners=("pass-nomail@contoso.com",)))
    assert out.by_resource() == {APP: PASS}


def test_own001_pass_service_principal_listed_by_app_id():
    b = with_owners(sp_owner(OTHER_APP), user_owner("pass-member@contoso.com"))
    base = integration(owners=(OTHER_APP.upper(), "pass-member@contoso.com"))
    assert run(app.owners_approved, b, base).by_resource() == {APP: PASS}


def test_own001_fail_guest():
    b = with_owners(user_owner("fail-guest_fabrikam.com#EXT#@contoso.com", user_type="Guest"))
    assert run(app.owners_approved, b).by_resource() == {APP: FAIL}


def test_own001_fail_guest_even_when_listed():
    upn = "fail-guest_fabrikam.com#EXT#@contoso.com"
    b = with_owners(user_owner(upn, user_type="Guest"))
    assert run(app.owners_approved, b, integration(owners=(upn,))).by_resource() == {APP: FAIL}


def test_own001_fail_disabled():
    b = with_owners(user_owner("fail-disabled@contoso.com", enabled=False))
    assert run(app.owners_approved, b).by_resource() == {APP: FAIL}


def test_own001_fail_disabled_even_when_listed():
    b = with_owners(user_owner("fail-disabled@contoso.com", enabled=False))
    assert run(app.owners_approved, b, integration(owners=("fail-disabled@contoso.com",))).by_resource() == {
        APP: FAIL}


def test_own001_fail_not_listed():
    b = with_owners(user_owner("pass-listed@contoso.com"), user_owner("fail-unlisted@contoso.com"))
    out = run(app.owners_approved, b, integration(owners=("pass-listed@contoso.com",)))
    assert out.by_resource() == {APP: FAIL}
    assert "fail-unlisted@contoso.com" in out.only().message
    assert "pass-listed@contoso.com" not in out.only().message


def test_own001_fail_empty_owner_list_approves_nobody():
    b = with_owners(user_owner("fail-unlisted@contoso.com"))
    assert run(app.owners_approved, b, integration(owners=())).by_resource() == {APP: FAIL}


def test_own001_fail_service_principal_owner_without_owner_list():
    assert run(app.owners_approved, with_owners(sp_owner(OTHER_APP))).by_resource() == {APP: FAIL}


def test_own001_fail_service_principal_owner_not_listed_by_app_id():
    b = with_owners(sp_owner(OTHER_APP))
    out = run(app.owners_approved, b, integration(owners=("SP aaaaaaaa", "owner@contoso.com")))
    assert out.by_resource() == {APP: FAIL}


def _owner_without_enabled(b):
    owner = user_owner("owner@contoso.com")
    del owner["accountEnabled"]
    app_object(b)["owners"] = [owner]
def _owner_without_type(b):
    owner = user_owner("owner@contoso.com")
    del owner["@odata.type"]
    app_object(b)["owners"] = [owner]
def _owner_without_user_type(b):
    owner = user_owner("owner@contoso.com")
    del owner["userType"]
    app_object(b)["owners"] = [owner]
def _no_owners_key(b): del app_object(b)["owners"]


@pytest.mark.parametrize("damage", [_drop_apps, _fail_apps, _app_not_asked, _owner_without_enabled,
                                    _owner_without_type, _owner_without_user_type, _no_owners_key],
                         ids=lambda f: f.__name__)
def test_own001_error_when_data_is_missing(damage):
    b = compliant_tenant()
    damage(b)
    assert run(app.owners_approved, b).by_resource() == {APP: ERROR}


# -- evidence and provenance -------------------------------------------------------------------------------

def _failing_snapshot_and_integration(check_id: str) -> tuple[SnapshotBuilder, Integration]:
    b = compliant_tenant()
    if check_id == "APP-001":
        sp_object(b)["accountEnabled"] = False
    elif check_id in ("PERM-001", "CONSENT-001"):
        return b, integration(permissions=("Mail.ReadWrite", "Mail.Send", "Calendars.Read"))
    elif check_id in ("PERM-002", "CONSENT-002"):
        grant(b, "User.Read.All")
    elif check_id == "PERM-003":
        grant(b, "Directory.ReadWrite.All")
    elif check_id == "PERM-004":
        delegated(b, "Mail.Read")
    elif check_id == "OWN-001":
        app_object(b)["owners"] = [user_owner("fail-guest@fabrikam.com", user_type="Guest")]
    return b, integration()


@pytest.mark.parametrize(("spec", "sections"), [
    (app.app_exists, ("graph.servicePrincipals", "graph.applications")),
    (app.permissions_requested, ("graph.applications",)),
    (app.no_extra_permissions, ("graph.applications", "graph.appRoleAssignments")),
    (app.no_takeover_permissions, ("graph.applications", "graph.appRoleAssignments")),
    (app.no_delegated_grants, ("graph.oauth2PermissionGrants",)),
    (app.consent_granted, ("graph.appRoleAssignments",)),
    (app.grants_declared, ("graph.applications", "graph.appRoleAssignments")),
    (app.owners_approved, ("graph.applications",)),
], ids=lambda v: getattr(v, "id", None))
def test_failure_carries_evidence_and_names_its_sources(spec, sections):
    b, base = _failing_snapshot_and_integration(spec.id)
    finding = run(spec, b, base).only()
    assert finding.status is FAIL
    assert finding.evidence
    for section in sections:
        assert f"{section}: test:{section}" in finding.provenance
