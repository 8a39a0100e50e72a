"""Permission names and classes (docs/baseline.md), resolved through the resources' appRoles in the snapshot.

A bare name (`Mail.ReadWrite`) is a Microsoft Graph application permission; any other resource is written
`Resource:Value`, Resource being the resource's displayName or appId. Role GUIDs are never hard-coded here:
an appRoleId becomes a name only through the resource service principal's `appRoles`.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.checks.context import Context
from auditor.models.baseline import Integration
from auditor.models.graph import (
    EXCHANGE_APP_ID,
    GRAPH_APP_ID,
    Application,
    AppRoleAssignment,
    ResourcePrincipal,
    ServicePrincipal,
)
from auditor.models.parsing import DataError

# Graph application permissions that read or write mailbox data; Application Access Policies scope exactly
# these: https://learn.microsoft.com/graph/auth-limit-mailbox-access
GRAPH_MAILBOX = frozenset({
    "Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.ReadWrite", "Mail.Send",
    "MailboxSettings.Read", "MailboxSettings.ReadWrite", "Calendars.Read", "Calendars.ReadWrite",
    "Contacts.Read", "Contacts.ReadWrite",
})
# Office 365 Exchange Online: EWS full_access_as_app and the legacy Outlook REST roles.
EXCHANGE_MAILBOX_PREFIXES = ("Mail.", "Calendars.", "Contacts.")
EWS_FULL_ACCESS = "full_access_as_app"

# Graph application permissions that let an app take over the directory (grant itself anything).
TAKEOVER = frozenset({
    "RoleManagement.ReadWrite.Directory", "AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All",
    "Directory.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All", "Policy.ReadWrite.PermissionGrant",
    "Policy.ReadWrite.ConditionalAccess", "UserAuthenticationMethod.ReadWrite.All", "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All", "User.ReadWrite.All",
})

# Delegated scopes the portal consents by default; harmless for a daemon app (PERM-004).
HARMLESS_DELEGATED = frozenset({"user.read", "openid", "profile", "email", "offline_access"})

# RBAC for Applications roles that reach mailbox data: https://learn.microsoft.com/exchange/permissions-exo/application-rbac
RBAC_MAILBOX_PREFIXES = ("Mail.", "MailboxSettings.", "Calendars.", "Contacts.", "MailboxFolder.", "MailboxItem.")
RBAC_FULL_ACCESS_ROLES = frozenset({"application mail full access", "application exchange full access"})
RBAC_PREFIX = "Application "


@dataclass(frozen=True)
class Permission:
    """An application permission (app role) on some resource."""

    resource_app_id: str
    resource_name: str
    value: str
    role_id: str

    @property
    def name(self) -> str:
        return self.value if self.resource_app_id == GRAPH_APP_ID else f"{self.resource_name}:{self.value}"

    @property
    def is_mailbox_data(self) -> bool:
        if self.resource_app_id == GRAPH_APP_ID:
            return self.value in GRAPH_MAILBOX
        if self.resource_app_id == EXCHANGE_APP_ID:
            return self.value == EWS_FULL_ACCESS or self.value.startswith(EXCHANGE_MAILBOX_PREFIXES)
        return False

    @property
    def is_takeover(self) -> bool:
        return self.resource_app_id == GRAPH_APP_ID and self.value in TAKEOVER

    @property
    def is_ews_full_access(self) -> bool:
        return self.resource_app_id == EXCHANGE_APP_ID and self.value == EWS_FULL_ACCESS

    def matches(self, baseline_name: str) -> bool:
        """Whether a baseline permission name (`Mail.Send`, `Office 365 Exchange Online:full_access_as_app`) is this."""
        resource, value = split_name(baseline_name)
        if value.lower() != self.value.lower():
            return False
        return (resource is None and self.resource_app_id == GRAPH_APP_ID) or (resource is not None and (
            resource.lower() in (self.resource_app_id, self.resource_name.lower())))


def split_name(baseline_name: str) -> tuple[str | None, str]:
    if ":" in baseline_name:
        resource, value = baseline_name.rsplit(":", 1)
        return resource.strip(), value.strip()
    return None, baseline_name.strip()


def is_allowed(integration: Integration, perm: Permission) -> bool:
    return any(perm.matches(name) for name in integration.allowed_permissions)


def granted_permissions(ctx: Context, sp: ServicePrincipal) -> list[Permission]:
    """Application permissions granted (appRoleAssignments) to the service principal, by name."""
    out = []
    for a in ctx.assignments_held_by(sp.id):
        resource = ctx.resource_by_id(a.resource_id)
        if resource is None:
            raise DataError(f"graph.resources: resource {a.resource_id} of a role granted to {sp.app_id} "
                            "was not collected")
        role = resource.role_by_id(a.app_role_id)
        out.append(Permission(resource.app_id, resource.display_name, role.value if role else a.app_role_id,
                              a.app_role_id))
    return _unique(out)


def requested_permissions(ctx: Context, app: Application) -> list[Permission]:
    """Application permissions the registration asks for (requiredResourceAccess, type Role)."""
    out = []
    for req in app.requested_roles:
        resource = ctx.resource_by_app_id(req.resource_app_id)
        if resource is None:
            raise DataError(f"graph.resources: resource {req.resource_app_id} requested by {app.app_id} "
                            "was not collected")
        role = resource.role_by_id(req.role_id)
        out.append(Permission(resource.app_id, resource.display_name, role.value if role else req.role_id, req.role_id))
    return _unique(out)


def sweep_holdings(ctx: Context) -> dict[str, list[Permission]]:
    """Per client service principal id: roles granted on Microsoft Graph and Office 365 Exchange Online,
    read from the resource-side listings (the sweep never needs one request per app). Several checks ask;
    the sections are read (and recorded as read) each time, the answer is worked out once."""
    listings = []
    for app_id in (GRAPH_APP_ID, EXCHANGE_APP_ID):
        resource = ctx.resource_by_app_id(app_id)
        if resource is not None:  # else the resource is not in the tenant: nobody holds its roles
            listings.append((resource, ctx.assignments_on(resource)))
    return ctx.memo("sweep_holdings", lambda: _holdings(listings))


def _holdings(listings: list[tuple[ResourcePrincipal, list[AppRoleAssignment]]]) -> dict[str, list[Permission]]:
    held: dict[str, list[Permission]] = {}
    for resource, assignments in listings:
        for a in assignments:
            role = resource.role_by_id(a.app_role_id)
            value = role.value if role else a.app_role_id
            held.setdefault(a.principal_id, []).append(
                Permission(resource.app_id, resource.display_name, value, a.app_role_id))
    return {k: _unique(v) for k, v in held.items()}


def _unique(perms: list[Permission]) -> list[Permission]:
    return sorted(set(perms), key=lambda p: (p.resource_app_id != GRAPH_APP_ID, p.name.lower()))


# -- RBAC for Applications ------------------------------------------------------------------------

def role_permission(role: str) -> str | None:
    """`Application Mail.ReadWrite` grants `Mail.ReadWrite`; the Full Access roles grant only themselves."""
    if role.lower() in RBAC_FULL_ACCESS_ROLES or not role.startswith(RBAC_PREFIX):
        return None
    return role[len(RBAC_PREFIX):]


def is_mailbox_role(role: str) -> bool:
    if role.lower() in RBAC_FULL_ACCESS_ROLES:
        return True
    perm = role_permission(role)
    return perm is not None and (perm.startswith(RBAC_MAILBOX_PREFIXES) or perm == "EWS.AccessAsApp")


def role_allowed(integration: Integration, role: str) -> bool:
    names = {n.lower() for n in integration.allowed_permissions}
    perm = role_permission(role)
    return role.lower() in names or (perm is not None and perm.lower() in names)


def role_grants(role: str, baseline_name: str) -> bool:
    """Whether an RBAC role grants a baseline permission (CONSENT-001 and SCOPE-004 for `rbac`)."""
    if role.lower() == baseline_name.lower():
        return True
    perm = role_permission(role)
    return perm is not None and perm.lower() == baseline_name.lower()
