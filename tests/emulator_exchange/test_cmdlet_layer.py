"""The transport-independent cmdlet layer: access-policy and RBAC semantics, identities, OPATH, binding."""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

import pytest

from auditor.emulator.exchange.access import check_management_scopes
from auditor.emulator.exchange.cmdlets import ExchangeCmdlets
from auditor.emulator.exchange.directory import Directory, derive_guid
from auditor.emulator.exchange.model import CmdletError
from auditor.emulator.tenant import Tenant, load_tenant
from auditor.errors import TenantFileError

from .helpers import (
    APP_DENY_NESTED,
    APP_INVALID_ONLY,
    APP_NO_POLICY,
    APP_RBAC,
    APP_RESTRICTED,
    APP_USER_SCOPE,
    RBAC_OBJECT_ID,
    TENANT_ID,
    tenant_doc,
)

G, D = "Granted", "Denied"


def _cmdlets(doc: dict[str, Any]) -> ExchangeCmdlets:
    tenant = load_tenant(doc)
    return ExchangeCmdlets(tenant.id, tenant.doc, tenant.now)


@pytest.fixture(scope="module")
def cmdlets(tenant: Tenant) -> ExchangeCmdlets:
    return ExchangeCmdlets(tenant.id, tenant.doc, tenant.now)


@pytest.fixture(scope="module")
def wildcard_cmdlets() -> ExchangeCmdlets:
    doc = tenant_doc(bulk=0)
    doc["exchange"]["distributionGroups"].append(
        {
            "Name": "executives",
            "PrimarySmtpAddress": "executives@contoso.com",
            "RecipientTypeDetails": "MailUniversalSecurityGroup",
            "ExternalDirectoryObjectId": "33333333-cccc-4ccc-8ccc-000000000009",
            "Members": ["ceo@contoso.com"],
        }
    )
    doc["exchange"]["applicationAccessPolicies"] += [
        {"AppId": "*", "PolicyScopeGroupId": "tier2@contoso.com", "AccessRight": "RestrictAccess"},
        {"AppId": "*", "PolicyScopeGroupId": "executives@contoso.com", "AccessRight": "DenyAccess"},
    ]
    return _cmdlets(doc)


def _verdict(cmdlets: ExchangeCmdlets, app_id: str, mailbox: str) -> str:
    result = cmdlets.invoke("Test-ApplicationAccessPolicy", {"Identity": mailbox, "AppId": app_id})
    assert not result.errors
    (row,) = result.records
    return row.properties["AccessCheckResult"]


@pytest.mark.parametrize(
    ("app_id", "mailbox", "expected"),
    [
        (APP_RESTRICTED, "support@contoso.com", G),
        (APP_RESTRICTED, "escalations@contoso.com", G),  # through the nested group tier2
        (APP_RESTRICTED, "ceo@contoso.com", D),
        (APP_RESTRICTED, "room1", D),
        (APP_DENY_NESTED, "support@contoso.com", G),
        (APP_DENY_NESTED, "escalations@contoso.com", D),  # DenyAccess beats RestrictAccess
        (APP_DENY_NESTED, "hr@contoso.com", D),
        (APP_NO_POLICY, "ceo@contoso.com", G),
        (APP_NO_POLICY, "support@contoso.com", G),
        (APP_INVALID_ONLY, "ceo@contoso.com", G),  # distribution-group and deleted-group policies ignored
        (APP_INVALID_ONLY, "support@contoso.com", G),
        (APP_USER_SCOPE, "hr@contoso.com", G),  # a user-mailbox scope matches that mailbox
        (APP_USER_SCOPE, "ceo@contoso.com", D),
    ],
)
def test_access_policy_semantics(cmdlets: ExchangeCmdlets, app_id: str, mailbox: str, expected: str) -> None:
    assert _verdict(cmdlets, app_id, mailbox) == expected


@pytest.mark.parametrize(
    ("app_id", "mailbox", "expected"),
    [
        (APP_NO_POLICY, "escalations@contoso.com", G),  # the wildcard RestrictAccess now applies to every app
        (APP_NO_POLICY, "support@contoso.com", D),
        (APP_RESTRICTED, "support@contoso.com", G),  # own policy and the wildcard one both count
        (APP_USER_SCOPE, "escalations@contoso.com", G),  # the wildcard widens the app's own scope
        (APP_USER_SCOPE, "hr@contoso.com", G),
        (APP_USER_SCOPE, "ceo@contoso.com", D),  # the wildcard DenyAccess keeps everyone away
        (APP_INVALID_ONLY, "ceo@contoso.com", D),
    ],
)
def test_wildcard_policies(wildcard_cmdlets: ExchangeCmdlets, app_id: str, mailbox: str, expected: str) -> None:
    assert _verdict(wildcard_cmdlets, app_id, mailbox) == expected


def test_policy_listing_validity_and_identities(cmdlets: ExchangeCmdlets) -> None:
    rows = [r.properties for r in cmdlets.invoke("Get-ApplicationAccessPolicy", {}).records]
    by_scope = {r["ScopeName"]: r for r in rows if r["AppId"] != APP_DENY_NESTED}
    group = by_scope["cctr_sec_group"]
    recipient = cmdlets.invoke("Get-Recipient", {"Identity": "cctr_sec_group@contoso.com"}).records[0].properties
    sid_guid = group["ScopeIdentityRaw"]
    assert re.fullmatch(r"S-1-5-21-\d+-\d+-\d+-\d+;[0-9a-f-]{36}", sid_guid)
    assert sid_guid.split(";")[1] == str(recipient["Guid"])
    assert group["Identity"] == f"{TENANT_ID}\\{APP_RESTRICTED}:{sid_guid}"
    assert (group["IsValid"], group["ShardType"], group["ObjectState"]) == (True, "All", "Unchanged")
    assert by_scope["all-staff"]["IsValid"] is False  # a distribution group is no security principal
    assert by_scope["hr"]["IsValid"] is True  # a user mailbox is
    deleted = by_scope["deleted-group@contoso.com"]  # scope names no recipient: raw id kept, orphaned Sid;Guid
    assert deleted["IsValid"] is False and deleted["ScopeIdentity"] == "deleted-group@contoso.com"
    orphan = cmdlets.invoke("Get-Recipient", {"Identity": deleted["ScopeIdentityRaw"]})
    assert not orphan.records and orphan.errors
    one = cmdlets.invoke("Get-ApplicationAccessPolicy", {"Identity": group["Identity"]}).records
    assert [r.properties["Identity"] for r in one] == [group["Identity"]]
    everything = cmdlets.invoke("Get-ApplicationAccessPolicy", {"Identity": "no such policy"}).records
    assert len(everything) == len(rows)  # like Exchange, an unknown -Identity lists every policy


def test_guid_and_sid_are_deterministic(tenant: Tenant) -> None:
    ex = tenant.doc["exchange"]
    one = Directory(tenant.id, ex["mailboxes"][:20], ex["distributionGroups"])
    two = Directory(tenant.id, ex["mailboxes"][:20], ex["distributionGroups"])
    other = Directory(str(uuid.uuid4()), ex["mailboxes"][:20], ex["distributionGroups"])
    assert [(r.guid, r.sid) for r in one.recipients] == [(r.guid, r.sid) for r in two.recipients]
    assert one.recipients[0].guid == derive_guid(tenant.id, "SUPPORT@contoso.com")
    assert len({r.sid for r in one.recipients}) == len(one.recipients)
    assert all(re.fullmatch(r"S-1-5-21-\d+-\d+-\d+-\d+", r.sid) for r in one.recipients)
    assert {r.guid for r in one.recipients}.isdisjoint({r.guid for r in other.recipients})


@pytest.mark.parametrize("how", ["address", "upper", "name", "alias", "guid", "edoid", "sidguid", "uuid"])
def test_identity_resolution(cmdlets: ExchangeCmdlets, how: str) -> None:
    support = cmdlets.directory.resolve("support@contoso.com")[0]
    identity: Any = {
        "address": "support@contoso.com",
        "upper": "SUPPORT@CONTOSO.COM",
        "name": "support",
        "alias": "support",
        "guid": str(support.guid),
        "edoid": support.external_directory_object_id,
        "sidguid": support.sid_guid,
        "uuid": support.guid,
    }[how]
    (row,) = cmdlets.invoke("Get-Mailbox", {"Identity": identity}).records
    assert row.properties["PrimarySmtpAddress"] == "support@contoso.com"


def test_rbac_authorization_scopes(cmdlets: ExchangeCmdlets) -> None:
    def in_scope(mailbox: str | None) -> dict[str, Any]:
        # -Resource takes the mailbox's Name, DN, canonical DN or GUID (not its address): send the Guid.
        guid = cmdlets.invoke("Get-Mailbox", {"Identity": mailbox}).records[0].properties["Guid"] if mailbox else 0
        params = {"Identity": APP_RBAC} | ({"Resource": str(guid)} if mailbox else {})
        return {
            r.properties["RoleName"]: r.properties
            for r in cmdlets.invoke("Test-ServicePrincipalAuthorization", params).records
        }

    support = in_scope("support@contoso.com")
    assert support["Application Mail.Read"] == {
        "RoleName": "Application Mail.Read",
        "GrantedPermissions": "Mail.Read",
        "AllowedResourceScope": "Organization",
        "ScopeType": "Organization",
        "InScope": True,
    }
    assert support["Application Mail.ReadWrite"]["AllowedResourceScope"] == "Support queues"
    assert support["Application Mail.ReadWrite"]["ScopeType"] == "CustomRecipientScope"
    assert support["Application Mail.Send"]["AllowedResourceScope"] == "cctr_sec_group@contoso.com"
    assert support["Application Mail.Send"]["InScope"] is True
    nested = in_scope("escalations@contoso.com")  # CustomAttribute1 support, but only a NESTED group member
    assert [nested[r]["InScope"] for r in sorted(nested)] == [True, True, False]
    ceo = in_scope("ceo@contoso.com")
    assert [ceo[r]["InScope"] for r in sorted(ceo)] == [True, False, False]
    assert {row["InScope"] for row in in_scope(None).values()} == {"Not Run"}
    for identity in (RBAC_OBJECT_ID, "ticketing"):
        assert len(cmdlets.invoke("Test-ServicePrincipalAuthorization", {"Identity": identity}).records) == 3
    (support_row,) = cmdlets.invoke("Get-Mailbox", {"Identity": "support@contoso.com"}).records
    by_name = cmdlets.invoke("Test-ServicePrincipalAuthorization", {
        "Identity": APP_RBAC, "Resource": support_row.properties["Name"]})
    assert len(by_name.records) == 3 and not by_name.errors
    # An SMTP address is not among the documented forms of -Resource: unresolved, like a name that names nothing.
    smtp = cmdlets.invoke("Test-ServicePrincipalAuthorization",
                          {"Identity": APP_RBAC, "Resource": "support@contoso.com"})
    assert not smtp.records and "couldn't be found" in smtp.errors[0].message
    missing = cmdlets.invoke("Test-ServicePrincipalAuthorization", {"Identity": "nope"})
    assert not missing.records and "couldn't be found" in missing.errors[0].message


def test_role_assignments_and_scopes(cmdlets: ExchangeCmdlets) -> None:
    rows = cmdlets.invoke("Get-ManagementRoleAssignment", {"RoleAssigneeType": "ServicePrincipal"}).records
    by_name = {r.properties["Name"]: r.properties for r in rows}
    assert by_name["ticketing-read-org"]["RecipientWriteScope"] == "Organization"
    assert by_name["ticketing-rw-support"]["CustomResourceScope"] == "Support queues"
    assert by_name["ticketing-rw-support"]["RecipientWriteScope"] == "CustomRecipientScope"
    group = by_name["ticketing-send-group"]
    assert (group["RecipientGroupScope"], group["RecipientWriteScope"]) == ("cctr_sec_group@contoso.com", "Group")
    assert {r["RoleAssignee"] for r in by_name.values()} == {RBAC_OBJECT_ID}
    assert {r["RoleAssigneeName"] for r in by_name.values()} == {"Ticketing"}
    by_app = cmdlets.invoke("Get-ManagementRoleAssignment", {"RoleAssignee": APP_RBAC}).records
    assert len(by_app) == 3
    users = cmdlets.invoke("Get-ManagementRoleAssignment", {"RoleAssigneeType": "User"})
    assert not users.records and not users.errors
    (scope,) = cmdlets.invoke("Get-ManagementScope", {}).records
    assert scope.properties["ScopeRestrictionType"] == "RecipientScope"


@pytest.mark.parametrize(
    ("text", "props", "expected"),
    [
        ("CustomAttribute1 -eq 'support'", {"CustomAttribute1": "SUPPORT"}, True),
        ('customattribute1 -EQ "support"', {"CustomAttribute1": "support"}, True),
        ("Department -ne 'Sales'", {}, True),
        ("PrimarySmtpAddress -like 'queue-*@contoso.com'", {"PrimarySmtpAddress": "Queue-1@Contoso.com"}, True),
        ("Name -like '*.x'", {"Name": "a.y"}, False),
        ("-not (Alias -eq 'a') -and (Name -eq 'b' -or Name -eq 'c')", {"Alias": "z", "Name": "c"}, True),
        ("Alias -eq 'a' -or Alias -eq 'b' -and Name -eq 'n'", {"Alias": "a", "Name": "x"}, True),
        ("Department -eq 'O''Brien'", {"Department": "o'brien"}, True),
        ("RecipientTypeDetails -eq 'SharedMailbox'", {"RecipientTypeDetails": "UserMailbox"}, False),
    ],
)
def test_opath_subset(text: str, props: dict[str, str], expected: bool) -> None:
    from auditor.emulator.exchange import opath

    assert opath.parse(text).evaluate(lambda name: props.get(name, "")) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("MemberOfGroup -eq 'CN=x'", "unsupported property 'MemberOfGroup'"),
        ("CustomAttribute1 -gt 'a'", "unsupported operator '-gt'"),
        ("CustomAttribute1 -eq support", "expected a quoted value"),
        ("(CustomAttribute1 -eq 'a'", "unexpected end of filter"),
        ("CustomAttribute1 -eq 'a' Name", "unexpected 'Name'"),
    ],
)
def test_filter_outside_subset_is_refused_naming_the_scope(text: str, fragment: str) -> None:
    doc = tenant_doc(bulk=0)
    doc["exchange"]["managementScopes"].append({"Name": "bad scope", "RecipientRestrictionFilter": text})
    with pytest.raises(TenantFileError) as info:
        _cmdlets(doc)
    with pytest.raises(TenantFileError):
        check_management_scopes(doc["exchange"])
    message = str(info.value)
    assert message.startswith("managementScopes[1] (Name 'bad scope'): RecipientRestrictionFilter: ")
    assert fragment in message and "\n" not in message


def test_result_size_and_binding(cmdlets: ExchangeCmdlets) -> None:
    default = cmdlets.invoke("Get-Mailbox", {})
    assert len(default.records) == 1000 and default.warnings[0].startswith("There are more results available")
    unlimited = cmdlets.invoke("get-mailbox", {"resultsize": "Unlimited"})
    assert len(unlimited.records) > 1000 and not unlimited.warnings
    shared = cmdlets.invoke("Get-EXOMailbox", {"RecipientTypeDetails": "SharedMailbox", "ResultSize": 2})
    assert [r.properties["Name"] for r in shared.records] == ["support", "sales"] and shared.warnings
    with pytest.raises(CmdletError, match="A parameter cannot be found that matches parameter name 'Filter'"):
        cmdlets.invoke("Get-Mailbox", {"Filter": "x"})
    with pytest.raises(CmdletError, match="missing mandatory parameters: AppId"):
        cmdlets.invoke("Test-ApplicationAccessPolicy", {"Identity": "support"})
    with pytest.raises(CmdletError, match="Cannot bind parameter 'ResultSize'"):
        cmdlets.invoke("Get-Mailbox", {"ResultSize": "lots"})


def test_tenant_without_exchange_section_still_works() -> None:
    doc = copy.deepcopy(tenant_doc(bulk=0))
    doc["exchange"] = {}
    cmdlets = _cmdlets(doc)
    assert cmdlets.invoke("Get-Mailbox", {}).records == []


def test_get_recipient_previews_a_recipient_filter(cmdlets: ExchangeCmdlets) -> None:
    """Get-Recipient -RecipientPreviewFilter (Get-Recipient.md): the recipients a management scope's filter
    selects, mailboxes and groups alike; the default ResultSize still applies."""
    out = cmdlets.invoke("Get-Recipient", {"RecipientPreviewFilter": "CustomAttribute1 -eq 'support'",
                                           "ResultSize": "Unlimited"})
    assert sorted(r.properties["PrimarySmtpAddress"] for r in out.records) == [
        "escalations@contoso.com", "support@contoso.com"]
    assert not out.errors and not out.warnings


def test_get_recipient_preview_is_its_own_parameter_set_and_refuses_what_it_cannot_read(
        cmdlets: ExchangeCmdlets) -> None:
    with pytest.raises(CmdletError) as both:
        cmdlets.invoke("Get-Recipient", {"Identity": "support@contoso.com",
                                         "RecipientPreviewFilter": "Name -eq 'support'"})
    assert "Parameter set cannot be resolved" in str(both.value.error.message)
    with pytest.raises(CmdletError) as bad:
        cmdlets.invoke("Get-Recipient", {"RecipientPreviewFilter": "Name -gt 'a'"})
    assert "RecipientPreviewFilter" in str(bad.value.error.message)
