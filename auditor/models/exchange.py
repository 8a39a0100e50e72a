"""Typed views of the Exchange sections (cmdlet output, Microsoft's property names at the boundary)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.models import parsing as p


@dataclass(frozen=True)
class AccessPolicy:
    """An ApplicationAccessPolicy as Get-ApplicationAccessPolicy shows it.

    https://learn.microsoft.com/powershell/module/exchange/new-applicationaccesspolicy
    """

    identity: str
    app_id: str  # a GUID, or "*" for every app
    access_right: str  # RestrictAccess | DenyAccess
    scope_name: str
    scope_guid: str | None  # the second half of ScopeIdentityRaw "<Sid>;<Guid>"
    is_valid: bool  # false when the scope is gone or is not a security principal: the policy then does nothing
    # The first half of ScopeIdentityRaw. Which GUID the second half is (the Exchange Guid or the Entra object
    # id) is undocumented, so a scope is matched on the Sid first (docs/microsoft-facts.md).
    scope_sid: str | None = None

    @property
    def is_wildcard(self) -> bool:
        return self.app_id == "*"

    @property
    def is_restrict(self) -> bool:
        return self.access_right.lower() == "restrictaccess"

    @property
    def is_deny(self) -> bool:
        return self.access_right.lower() == "denyaccess"


@dataclass(frozen=True)
class Recipient:
    name: str
    address: str  # PrimarySmtpAddress, lower-cased ("" when the recipient has none)
    guid: str
    external_directory_object_id: str | None
    recipient_type_details: str
    sid: str | None = None  # where the cmdlet's output carries it (Get-DistributionGroup, Get-Mailbox)


@dataclass(frozen=True)
class Group:
    recipient: Recipient
    managed_by: tuple[str, ...]
    member_join_restriction: str
    members: tuple[Recipient, ...]  # direct members, as Get-DistributionGroupMember lists them

    @property
    def address(self) -> str:
        return self.recipient.address


@dataclass(frozen=True)
class AccessTest:
    app_id: str
    identity: str  # the mailbox address the collector asked about, lower-cased
    mailbox_id: str  # undocumented: a Guid, ExchangeGuid, directory object id or a Sid (docs/microsoft-facts.md)
    access_check_result: str  # Granted | Denied

    @property
    def granted(self) -> bool:
        return self.access_check_result.lower() == "granted"


@dataclass(frozen=True)
class ExoServicePrincipal:
    app_id: str
    object_id: str
    display_name: str


@dataclass(frozen=True)
class RoleAssignment:
    """A Get-ManagementRoleAssignment row for a service principal (RBAC for Applications).

    https://learn.microsoft.com/exchange/permissions-exo/application-rbac
    """

    name: str
    role: str
    role_assignee: str
    custom_resource_scope: str | None
    recipient_group_scope: str | None
    recipient_write_scope: str

    @property
    def is_organisation_wide(self) -> bool:
        # With no management scope, group scope or administrative unit, an assignment covers every mailbox.
        if self.custom_resource_scope or self.recipient_group_scope:
            return False
        return self.recipient_write_scope.lower() in ("organization", "")


@dataclass(frozen=True)
class AuthorizationRow:
    role_name: str
    granted_permissions: tuple[str, ...]
    scope_type: str
    in_scope: bool


@dataclass(frozen=True)
class AuthorizationTest:
    app_id: str
    resource: str  # the mailbox address tested, lower-cased
    rows: tuple[AuthorizationRow, ...]


def parse_policy(obj: Any) -> AccessPolicy:
    where = f"application access policy {obj.get('Identity') if isinstance(obj, dict) else obj!r}"
    raw = p.text(obj, "ScopeIdentityRaw", where, nullable=True) or ""
    scope_sid, _, scope_guid = (part.strip().lower() for part in raw.partition(";")) if ";" in raw else ("", "", "")
    app_id = p.text(obj, "AppId", where).strip().lower()
    return AccessPolicy(identity=p.text(obj, "Identity", where, nullable=True) or "", app_id=app_id,
                        access_right=p.text(obj, "AccessRight", where),
                        scope_name=p.text(obj, "ScopeName", where, nullable=True) or "",
                        scope_guid=scope_guid or None, is_valid=p.field(obj, "IsValid", bool, where),
                        scope_sid=scope_sid or None)


def parse_recipient(obj: Any, where: str = "") -> Recipient:
    where = where or f"recipient {obj.get('PrimarySmtpAddress') if isinstance(obj, dict) else obj!r}"
    return Recipient(name=p.text(obj, "Name", where),
                     address=(p.text(obj, "PrimarySmtpAddress", where, nullable=True) or "").lower(),
                     guid=p.guid(obj, "Guid", where),
                     external_directory_object_id=p.guid(obj, "ExternalDirectoryObjectId", where, nullable=True),
                     recipient_type_details=p.text(obj, "RecipientTypeDetails", where),
                     sid=str(obj.get("Sid") or "").lower() or None)  # absent from some cmdlets' rows


def parse_group(obj: Any) -> Group:
    recipient = parse_recipient(obj)
    where = f"group {recipient.address or recipient.name}"
    members = tuple(parse_recipient(m, f"{where} Members[{i}]") for i, m in enumerate(p.items(obj, "Members", where)))
    return Group(recipient=recipient, managed_by=p.strings(p.field(obj, "ManagedBy", (list, str), where, True), where),
                 member_join_restriction=p.text(obj, "MemberJoinRestriction", where), members=members)


def parse_access_test(obj: Any) -> AccessTest:
    row = obj if isinstance(obj, dict) else {}
    where = f"access test {row.get('AppId')} / {row.get('Identity')}"
    result = p.text(obj, "AccessCheckResult", where)
    if result.strip().lower() not in ("granted", "denied"):
        # Sessions in another language print the value localized ("Accordé"); reading anything but Granted as
        # Denied would pass a reachable canary, so an unknown value is a data error (docs/microsoft-facts.md).
        raise p.DataError(f"{where}: AccessCheckResult {result!r} is neither Granted nor Denied")
    return AccessTest(app_id=p.guid(obj, "AppId", where), identity=p.text(obj, "Identity", where).lower(),
                      mailbox_id=p.text(obj, "MailboxId", where).lower(), access_check_result=result.strip())


def parse_exo_service_principal(obj: Any) -> ExoServicePrincipal:
    where = f"Exchange service principal {obj.get('AppId') if isinstance(obj, dict) else obj!r}"
    return ExoServicePrincipal(app_id=p.guid(obj, "AppId", where), object_id=p.guid(obj, "ObjectId", where),
                               display_name=p.text(obj, "DisplayName", where, nullable=True) or "")


def parse_role_assignment(obj: Any) -> RoleAssignment:
    where = f"management role assignment {obj.get('Name') if isinstance(obj, dict) else obj!r}"
    group_scope = obj.get("RecipientGroupScope") if isinstance(obj, dict) else None
    return RoleAssignment(name=p.text(obj, "Name", where), role=p.text(obj, "Role", where),
                          role_assignee=p.text(obj, "RoleAssignee", where).lower(),
                          custom_resource_scope=p.text(obj, "CustomResourceScope", where, nullable=True) or None,
                          recipient_group_scope=str(group_scope) if group_scope else None,
                          recipient_write_scope=p.text(obj, "RecipientWriteScope", where))


def parse_authorization_test(obj: Any) -> AuthorizationTest:
    where = f"authorization test {obj.get('AppId') if isinstance(obj, dict) else ''}"
    rows = []
    for i, row in enumerate(p.items(obj, "Rows", where)):
        w = f"{where} Rows[{i}]"
        granted = p.field(row, "GrantedPermissions", (str, list), w)
        perms = tuple(granted) if isinstance(granted, list) else tuple(
            x.strip() for x in granted.replace(";", ",").split(",") if x.strip())
        in_scope = p.field(row, "InScope", (bool, str), w)
        rows.append(AuthorizationRow(role_name=p.text(row, "RoleName", w), granted_permissions=perms,
                                     scope_type=p.text(row, "ScopeType", w, nullable=True) or "",
                                     in_scope=in_scope is True or str(in_scope).lower() == "true"))
    return AuthorizationTest(app_id=p.guid(obj, "AppId", where), resource=p.text(obj, "Resource", where).lower(),
                             rows=tuple(rows))
