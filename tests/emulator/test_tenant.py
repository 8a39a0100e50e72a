"""Loading the tenant file: relative dates, built-ins, derived groups, and one-line errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.emulator.builtin import EXCHANGE_APP_ID, GRAPH_APP_ID, GRAPH_APP_ROLES, MICROSOFT_TENANT_ID
from auditor.emulator.tenant import load_tenant
from auditor.errors import TenantFileError

from .conftest import AUDITOR, CONTACT_CENTER, GROUP_ID, NESTED_ID, TENANT_ID, USER_IDS, sp_id

NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)


def test_relative_dates_resolve_against_the_clock(tenant_doc: dict[str, Any]) -> None:
    tenant = load_tenant(tenant_doc, now=NOW)
    app = tenant.applications_by_app_id[CONTACT_CENTER]
    assert app["passwordCredentials"][0]["startDateTime"] == "2026-10-18T03:00:00Z"
    assert app["passwordCredentials"][0]["endDateTime"] == "2027-02-25T03:00:00Z"
    assert app["keyCredentials"][0]["endDateTime"] == "2026-11-27T09:00:00Z"
    expired = tenant.clients_by_app_id[guid_lower(tenant_doc, "Expired")]
    assert expired["secretExpires"] == "2026-11-26T03:00:00Z"
    assert tenant.now == NOW
    assert tenant_doc["graph"]["applications"][4]["passwordCredentials"][0]["endDateTime"] == "now+90d"


def test_minutes_and_now() -> None:
    doc = {
        "tenant": {"id": TENANT_ID, "defaultDomain": "x.onmicrosoft.com"},
        "emulator": {"clients": [{"appId": AUDITOR, "secret": "s", "secretExpires": "now+15m"}]},
    }
    tenant = load_tenant(doc, now=NOW)
    assert tenant.clients_by_app_id[AUDITOR]["secretExpires"] == "2026-11-27T03:15:00Z"
    assert tenant.display_name == "x.onmicrosoft.com"
    for section in ("applications", "servicePrincipals", "appRoleAssignments", "oauth2PermissionGrants", "users"):
        assert isinstance(tenant.doc["graph"][section], list)
    for section in ("mailboxes", "distributionGroups", "applicationAccessPolicies", "managementScopes"):
        assert tenant.doc["exchange"][section] == []


def guid_lower(doc: dict[str, Any], name: str) -> str:
    return next(a["appId"] for a in doc["graph"]["applications"] if a["displayName"] == name).lower()


def test_builtins_added_with_full_app_roles(tenant_doc: dict[str, Any]) -> None:
    tenant = load_tenant(tenant_doc, now=NOW)
    graph = tenant.service_principals_by_app_id[GRAPH_APP_ID]
    exchange = tenant.service_principals_by_app_id[EXCHANGE_APP_ID]
    assert graph["appOwnerOrganizationId"] == MICROSOFT_TENANT_ID
    values = {r["value"]: r for r in graph["appRoles"]}
    assert set(values) == set(GRAPH_APP_ROLES)
    assert values["Mail.ReadWrite"]["id"] == "e2a3a72e-5f79-4c64-b1b1-878b674786c9"
    role = values["Mail.Send"]
    assert role["allowedMemberTypes"] == ["Application"] and role["isEnabled"] and role["origin"] == "Application"
    assert role["displayName"] and role["description"]
    ex_values = {r["value"] for r in exchange["appRoles"]}
    assert {"Exchange.ManageAsApp", "full_access_as_app", "Mail.Read", "Contacts.ReadWrite"} <= ex_values
    # Deterministic per tenant.
    assert load_tenant(tenant_doc, now=NOW).service_principals_by_app_id[GRAPH_APP_ID]["id"] == graph["id"]


def test_file_defined_resource_replaces_builtin(tenant_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(tenant_doc)
    doc["graph"]["servicePrincipals"].append(
        {
            "id": "own-graph",
            "appId": GRAPH_APP_ID,
            "displayName": "Microsoft Graph",
            "appOwnerOrganizationId": MICROSOFT_TENANT_ID,
            "appRoles": [
                {"id": "810c84a8-4a9e-49e6-bf7d-12d183f40d01", "value": "Mail.Read"},
                {"id": "e2a3a72e-5f79-4c64-b1b1-878b674786c9", "value": "Mail.ReadWrite"},
            ],
        }
    )
    doc["graph"]["appRoleAssignments"] = [
        {"id": "x", "principalId": AUDITOR, "resourceId": "own-graph", "appRoleId": "Mail.Read"}
    ]
    tenant = load_tenant(doc, now=NOW)
    assert tenant.service_principals_by_app_id[GRAPH_APP_ID]["id"] == "own-graph"
    assert tenant.roles_for(AUDITOR, "https://graph.microsoft.com") == {"Mail.Read"}


def test_references_resolved_and_groups_derived(tenant_doc: dict[str, Any]) -> None:
    tenant = load_tenant(tenant_doc, now=NOW)
    graph_sp = tenant.service_principals_by_app_id[GRAPH_APP_ID]
    ra = tenant.doc["graph"]["appRoleAssignments"][1]
    assert ra["principalId"] == sp_id(AUDITOR) and ra["resourceId"] == graph_sp["id"]
    assert ra["appRoleId"] == "7ab1d382-f21e-4acd-a863-ba3e13f7da61"  # Directory.Read.All
    assert ra["principalDisplayName"] == "Auditor" and ra["resourceDisplayName"] == "Microsoft Graph"
    assert ra["createdDateTime"] == "2026-11-27T03:00:00Z"
    access = tenant.applications_by_app_id[CONTACT_CENTER]["requiredResourceAccess"][0]["resourceAccess"]
    assert access[0]["id"] == "e2a3a72e-5f79-4c64-b1b1-878b674786c9"
    group = tenant.groups_by_id[GROUP_ID]
    assert group == {
        "id": GROUP_ID,
        "displayName": "cctr",
        "mail": "cctr_sec_group@contoso.com",
        "mailEnabled": True,
        "securityEnabled": True,
        "groupTypes": [],
    }
    assert tenant.groups_by_id[NESTED_ID]["securityEnabled"] is False
    assert tenant.group_members[GROUP_ID] == [USER_IDS["support"], NESTED_ID]
    # Nested groups are members too; the cycle back to the top group is cut.
    assert tenant.transitive_members(GROUP_ID) == [USER_IDS["support"], NESTED_ID, USER_IDS["sales"]]
    assert tenant.roles_for(AUDITOR, "https://graph.microsoft.com") == {
        "Application.Read.All",
        "Directory.Read.All",
        "User.Read.All",
    }
    assert tenant.roles_for(AUDITOR, "https://outlook.office365.com") == {"Exchange.ManageAsApp"}


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _set("graph.appRoleAssignments.3.principalId", "nobody"),
            "graph.appRoleAssignments[3] (id 'assignment-4'): principalId 'nobody' names no service principal",
        ),
        (
            _set("graph.appRoleAssignments.0.appRoleId", "Mail.Nope"),
            "graph.appRoleAssignments[0] (id 'assignment-1'): appRoleId 'Mail.Nope' is not an app role",
        ),
        (
            _set("graph.appRoleAssignments.0.resourceId", "zzz"),
            "resourceId 'zzz' names no service principal",
        ),
        (_set("graph.appRoleAssignments.1.id", _DELETE), "graph.appRoleAssignments[1]: missing required field 'id'"),
        (_set("graph.appRoleAssignments.1.id", "assignment-1"), "(id 'assignment-1'): duplicate id"),
        (
            _set("graph.oauth2PermissionGrants.0.clientId", "ghost"),
            "graph.oauth2PermissionGrants[0] (id 'grant-1'): clientId 'ghost' names no service principal",
        ),
        (_set("graph.applications.4.owners", ["ghost"]), "owners[0] 'ghost' names no user or service principal"),
        (_set("graph.applications.0.appId", _DELETE), "graph.applications[0] (id 'ea000000-0000-0000-0000-00000000"),
        (_set("graph.servicePrincipals.0.id", "b0000000-0000-0000-0000-000000000001"), "duplicate object id"),
        (
            _set("graph.applications.4.passwordCredentials.0.endDateTime", "now+90days"),
            "passwordCredentials[0]: field 'endDateTime' is not an ISO-8601 date",
        ),
        (_set("graph.users.0.userPrincipalName", _DELETE), "graph.users[0] (id 'b0000000"),
        (
            _set("exchange.applicationAccessPolicies.0.AccessRight", "AllowAccess"),
            "exchange.applicationAccessPolicies[0] (AppId 'c0000000-0000-0000-0000-000000000001'): AccessRight",
        ),
        (_set("exchange.applicationAccessPolicies.0.AppId", "cc"), "AppId must be a GUID or '*'"),
        (
            _set("exchange.distributionGroups.0.Members", ["ghost@contoso.com"]),
            "exchange.distributionGroups[0] (Name 'cctr'): Members[0] 'ghost@contoso.com' names no mailbox",
        ),
        (
            _set("exchange.managementRoleAssignments.0.App", "nobody"),
            "exchange.managementRoleAssignments[0] (Name 'vendor-mail'): App 'nobody' names no",
        ),
        (
            _set("exchange.managementRoleAssignments.0.CustomResourceScope", "missing"),
            "CustomResourceScope 'missing' names no managementScopes Name",
        ),
        (
            _set("exchange.managementRoleAssignments.0.RecipientGroupScope", "cctr_sec_group@contoso.com"),
            "set at most one of CustomResourceScope and RecipientGroupScope",
        ),
        (_set("exchange.mailboxes.1.PrimarySmtpAddress", "SUPPORT@contoso.com"), "is already used"),
        (_set("emulator.clients.0.secret", _DELETE), "emulator.clients[0] (appId 'a0000000"),
        (_set("emulator.clients.4.certificate", "not a pem"), "field 'certificate' is not a PEM certificate"),
        (_set("emulator.jumpHost.password", _DELETE), "emulator.jumpHost: missing required field 'password'"),
        (_set("tenant.id", "contoso"), "tenant: field 'id' must be a GUID"),
        (_set("graph.users", {"not": "a list"}), "graph.users: must be a list"),
    ],
)
def test_broken_tenants_are_refused_in_one_line(tenant_doc: dict[str, Any], mutate: Mutation, expected: str) -> None:
    doc = copy.deepcopy(tenant_doc)
    mutate(doc)
    with pytest.raises(TenantFileError) as info:
        load_tenant(doc, name="tenant.json")
    message = str(info.value)
    assert message.startswith("tenant.json: ")
    assert expected in message
    assert "\n" not in message


def test_policy_scope_naming_no_recipient_is_allowed(tenant_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(tenant_doc)
    doc["exchange"]["applicationAccessPolicies"][0]["PolicyScopeGroupId"] = "deleted@contoso.com"
    doc["exchange"]["applicationAccessPolicies"].append(
        {"AppId": "*", "PolicyScopeGroupId": "ceo@contoso.com", "AccessRight": "DenyAccess"}
    )
    assert len(load_tenant(doc).doc["exchange"]["applicationAccessPolicies"]) == 2


def test_file_errors(tmp_path: Path, tenant_doc: dict[str, Any]) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(TenantFileError, match=r"nope\.json: cannot read the tenant file"):
        load_tenant(missing)
    bad = tmp_path / "bad.json"
    bad.write_text('{"tenant": {,}}')
    with pytest.raises(TenantFileError, match=r"bad\.json: invalid JSON at line 1 column 13"):
        load_tenant(bad)
    good = tmp_path / "tenant.json"
    good.write_text(json.dumps(tenant_doc))
    assert load_tenant(good).id == TENANT_ID
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(TenantFileError, match="must hold a JSON object"):
        load_tenant(array)
