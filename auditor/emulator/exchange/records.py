"""Exchange-shaped output records: the type names of deserialised Exchange objects and their properties."""

from __future__ import annotations

import uuid
from typing import Any

from auditor.emulator.exchange.access import AccessPolicy, ManagementScope, RoleAssignment, ServicePrincipal
from auditor.emulator.exchange.directory import CUSTOM_ATTRIBUTES, Directory, Recipient
from auditor.emulator.exchange.model import Record

_DM = "Deserialized.Microsoft.Exchange.Data.Directory.Management."
_BASE = (
    "Deserialized.Microsoft.Exchange.Data.Directory.ADPresentationObject",
    "Deserialized.Microsoft.Exchange.Data.ConfigurableObject",
    "Deserialized.System.Object",
)
MAILBOX_TYPES = (_DM + "Mailbox", _DM + "MailEnabledOrgPerson", _DM + "MailEnabledRecipient", *_BASE)
EXO_MAILBOX_TYPES = (
    "Deserialized.Microsoft.Exchange.Management.RestApiClient.ExoMailbox",
    "Deserialized.System.Object",
)
GROUP_TYPES = (_DM + "DistributionGroup", _DM + "DistributionGroupBase", _DM + "MailEnabledRecipient", *_BASE)
REDUCED_RECIPIENT_TYPES = (_DM + "ReducedRecipient", *_BASE)
POLICY_TYPES = (_DM + "ApplicationAccessPolicy", *_BASE)
POLICY_TEST_TYPES = (_DM + "ApplicationAccessPolicyTestResult", "Deserialized.System.Object")
SERVICE_PRINCIPAL_TYPES = (_DM + "ServicePrincipal", *_BASE)
ROLE_ASSIGNMENT_TYPES = (_DM + "ExchangeRoleAssignmentPresentation", *_BASE)
SCOPE_TYPES = (
    "Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.ManagementScope",
    "Deserialized.Microsoft.Exchange.Data.Directory.ADConfigurationObject",
    *_BASE[1:],
)
AUTHORIZATION_TYPES = (_DM + "ServicePrincipalAuthorizationResult", "Deserialized.System.Object")


def _recipient_core(r: Recipient) -> dict[str, Any]:
    return {
        "Identity": r.name,
        "Name": r.name,
        "DisplayName": r.display_name,
        "Alias": r.alias,
        "PrimarySmtpAddress": r.primary_smtp_address,
        "Guid": r.guid,
        "ExternalDirectoryObjectId": r.external_directory_object_id,
        "RecipientType": r.recipient_type,
        "RecipientTypeDetails": r.recipient_type_details,
    }


def mailbox(r: Recipient, exo: bool = False) -> Record:
    props = _recipient_core(r)
    if not exo:  # Get-Mailbox returns every property; the REST-backed Get-EXOMailbox only the sets asked for
        props["ExchangeGuid"] = r.exchange_guid
        props["Sid"] = r.sid
    props["UserPrincipalName"] = r.attributes.get("UserPrincipalName", "")
    props["Department"] = r.attributes.get("Department", "")
    for name in CUSTOM_ATTRIBUTES:
        props[name] = r.attributes.get(name, "")
    return Record(EXO_MAILBOX_TYPES if exo else MAILBOX_TYPES, props, r.name)


def group(r: Recipient) -> Record:
    props = _recipient_core(r)
    props["Sid"] = r.sid
    security = r.recipient_type_details == "MailUniversalSecurityGroup"
    props["ManagedBy"] = [str(m) for m in r.raw.get("ManagedBy") or ()]
    props["MemberJoinRestriction"] = str(r.raw.get("MemberJoinRestriction") or "Closed")
    props["MemberDepartRestriction"] = str(r.raw.get("MemberDepartRestriction") or "Closed")
    props["GroupType"] = "Universal, SecurityEnabled" if security else "Universal"
    return Record(GROUP_TYPES, props, r.name)


def member(r: Recipient) -> Record:
    return Record(REDUCED_RECIPIENT_TYPES, _recipient_core(r), r.name)


def recipient(r: Recipient) -> Record:
    props = _recipient_core(r)
    props["IsValidSecurityPrincipal"] = r.is_valid_security_principal
    return Record(REDUCED_RECIPIENT_TYPES, props, r.name)


def policy(p: AccessPolicy, directory: Directory, tenant_id: str, entra_object_id: bool = False) -> Record:
    """A policy whose scope names no recipient keeps the raw PolicyScopeGroupId as ScopeName/ScopeIdentity
    and the orphaned `<Sid>;<Guid>` the deleted recipient would have had as ScopeIdentityRaw.

    Which GUID follows the Sid is undocumented: the Exchange Guid, or with `entra_object_id` the scope's
    ExternalDirectoryObjectId (realism profile scopeIdentityGuid, docs/microsoft-facts.md)."""
    if p.scope is not None:
        guid = p.scope.external_directory_object_id if entra_object_id else p.scope.guid
        scope_name, raw = p.scope.name, f"{p.scope.sid};{guid}"
    else:
        scope_name, raw = p.scope_ref, directory.orphan_sid_guid(p.scope_ref, entra_object_id)
    identity = f"{tenant_id}\\{p.app_id}:{raw}"
    props = {
        "ScopeName": scope_name,
        "ScopeIdentity": scope_name,
        "Identity": identity,
        "AppId": p.app_id,
        "ScopeIdentityRaw": raw,
        "Description": p.description,
        "AccessRight": p.access_right,
        "ShardType": "All",
        "IsValid": p.is_valid,
        "ObjectState": "Unchanged",
    }
    return Record(POLICY_TYPES, props, identity)


def policy_test(app_id: str, mailbox_: Recipient, result: str, mailbox_id: str = "guid") -> Record:
    """`mailbox_id`: which identifier MailboxId carries (undocumented; realism profile mailboxId)."""
    ids: dict[str, Any] = {
        "guid": mailbox_.guid,
        "exchange_guid": mailbox_.exchange_guid,
        "external_directory_object_id": uuid.UUID(mailbox_.external_directory_object_id),
        "mailbox_sid": mailbox_.sid,
    }
    props = {
        "AppId": app_id,
        "Mailbox": mailbox_.name,
        "MailboxId": ids[mailbox_id],
        "MailboxSid": mailbox_.sid,
        "AccessCheckResult": result,
    }
    return Record(POLICY_TEST_TYPES, props, f"{app_id}:{mailbox_.name}")


def service_principal(sp: ServicePrincipal) -> Record:
    props = {
        "Identity": sp.object_id,
        "Name": sp.object_id,
        "AppId": sp.app_id,
        "ObjectId": sp.object_id,
        "DisplayName": sp.display_name,
    }
    return Record(SERVICE_PRINCIPAL_TYPES, props, sp.object_id)


def role_assignment(a: RoleAssignment) -> Record:
    props = {
        "Identity": a.name,
        "Name": a.name,
        "Role": a.role,
        "RoleAssignee": a.principal.object_id if a.principal else a.app_ref,
        "RoleAssigneeName": a.principal.display_name if a.principal else a.app_ref,
        "RoleAssigneeType": "ServicePrincipal",
        "AssignmentMethod": "Direct",
        "CustomResourceScope": a.custom_scope.name if a.custom_scope else None,
        "RecipientGroupScope": a.group_address if a.group_ref else None,
        "RecipientWriteScope": a.write_scope,
        "Enabled": True,
    }
    return Record(ROLE_ASSIGNMENT_TYPES, props, a.name)


# Role-group assignments every tenant holds, listed beside the service principals' when no filter is sent.
ROLE_GROUP_ASSIGNMENTS = (("Organization Management", "Mail Recipients"),
                          ("Organization Management", "View-Only Configuration"),
                          ("View-Only Organization Management", "View-Only Recipients"))


def role_group_assignments(role: Any = None) -> list[Record]:
    """The built-in role-group assignments (of one -Role when given)."""
    return [role_group_assignment(f"{name}-{group}", name, group) for group, name in ROLE_GROUP_ASSIGNMENTS
            if role is None or str(role).lower() == name.lower()]


def role_group_assignment(name: str, role: str, group: str) -> Record:
    """A built-in assignment of a role to a role group."""
    props = {
        "Identity": name,
        "Name": name,
        "Role": role,
        "RoleAssignee": group,
        "RoleAssigneeName": group,
        "RoleAssigneeType": "RoleGroup",
        "AssignmentMethod": "Direct",
        "CustomResourceScope": None,
        "RecipientGroupScope": None,
        "RecipientWriteScope": "Organization",
        "Enabled": True,
    }
    return Record(ROLE_ASSIGNMENT_TYPES, props, name)


def management_scope(s: ManagementScope) -> Record:
    props = {
        "Identity": s.name,
        "Name": s.name,
        "RecipientRestrictionFilter": s.filter_text,
        "ScopeRestrictionType": "RecipientScope",
        "Exclusive": False,
    }
    return Record(SCOPE_TYPES, props, s.name)


def authorization(a: RoleAssignment, in_scope: bool | str) -> Record:
    """Group-scoped assignments report ScopeType `CustomRecipientScope` (the documented values are
    CustomRecipientScope, AdministrativeUnit, Organization) with the group's address as
    AllowedResourceScope."""
    if a.custom_scope is not None:
        allowed, scope_type = a.custom_scope.name, "CustomRecipientScope"
    elif a.group_ref:
        allowed, scope_type = a.group_address or "", "CustomRecipientScope"
    else:
        allowed, scope_type = "Organization", "Organization"
    permission = a.role[len("Application ") :] if a.role.startswith("Application ") else a.role
    props = {
        "RoleName": a.role,
        "GrantedPermissions": permission,
        "AllowedResourceScope": allowed,
        "ScopeType": scope_type,
        "InScope": in_scope,
    }
    return Record(AUTHORIZATION_TYPES, props, a.role)
