"""Which application permissions let an app call each emulated Graph route: Microsoft's tables, one row per route.

Each row is the "Application" line of the permissions table on the route's documentation page in
microsoftgraph/microsoft-graph-docs-contrib (`api-reference/v1.0/api/<page>.md`, table in
`api-reference/v1.0/includes/permissions/<page>-permissions.md`), least privileged first, then the higher ones,
exactly as listed. See docs/microsoft-facts.md (Microsoft Graph).

`Application.ReadWrite.OwnedBy` is listed where the table lists it, but it only reaches the objects the caller
owns; the emulator serves tenant-wide reads only, so it does not honour it (stricter than Graph, never laxer).
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "microsoft-graph-docs-contrib: api-reference/v1.0/api/"
SCOPED_TO_OWNED = frozenset({"Application.ReadWrite.OwnedBy"})


@dataclass(frozen=True)
class RoutePermissions:
    route: str  # template relative to /v1.0, as in graph_handlers.ROUTES
    page: str  # the documentation page, below api-reference/v1.0/api/
    least: tuple[str, ...]
    higher: tuple[str, ...]

    @property
    def source(self) -> str:
        return f"{DOCS}{self.page}.md"

    @property
    def sufficient(self) -> frozenset[str]:
        """The permissions any one of which lets the emulator answer (OwnedBy left out, see above)."""
        return frozenset(self.least + self.higher) - SCOPED_TO_OWNED


_APP_READ_OWNED = ("Application.ReadWrite.OwnedBy", "Application.ReadWrite.All", "Directory.Read.All")
_GRANTS = ("DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All")
_USERS = ("User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")

TABLE: tuple[RoutePermissions, ...] = (
    RoutePermissions("/applications", "application-list", ("Application.Read.All",), _APP_READ_OWNED),
    RoutePermissions("/applications{KEY}", "application-get", ("Application.Read.All",),
                     ("Application.ReadWrite.OwnedBy", "Application.ReadWrite.All")),
    RoutePermissions("/applications{KEY}/owners", "application-list-owners", ("Application.Read.All",),
                     (*_APP_READ_OWNED, "Directory.ReadWrite.All")),
    RoutePermissions("/servicePrincipals", "serviceprincipal-list", ("Application.Read.All",), _APP_READ_OWNED),
    RoutePermissions("/servicePrincipals{KEY}", "serviceprincipal-get", ("Application.Read.All",), _APP_READ_OWNED),
    RoutePermissions("/servicePrincipals{KEY}/appRoleAssignments", "serviceprincipal-list-approleassignments",
                     ("Application.Read.All",), ("Application.ReadWrite.All", "Application.ReadWrite.OwnedBy",
                                                 "Directory.Read.All", "Directory.ReadWrite.All")),
    RoutePermissions("/servicePrincipals{KEY}/appRoleAssignedTo", "serviceprincipal-list-approleassignedto",
                     ("Application.Read.All",), ("Application.ReadWrite.OwnedBy", "Directory.Read.All",
                                                 "Application.ReadWrite.All", "Directory.ReadWrite.All")),
    RoutePermissions("/servicePrincipals{KEY}/oauth2PermissionGrants", "serviceprincipal-list-oauth2permissiongrants",
                     ("Directory.Read.All",), _GRANTS),
    RoutePermissions("/servicePrincipals{KEY}/owners", "serviceprincipal-list-owners", ("Application.Read.All",),
                     (*_APP_READ_OWNED, "Directory.ReadWrite.All")),
    RoutePermissions("/oauth2PermissionGrants", "oauth2permissiongrant-list", ("Directory.Read.All",), _GRANTS),
    RoutePermissions("/users", "user-list", ("User.Read.All",), _USERS),
    RoutePermissions("/users/{id}", "user-get", ("User.Read.All",), _USERS),
    RoutePermissions("/groups", "group-list", ("Group-NestingSupport.ReadWrite.All",),
                     ("Directory.Read.All", "Directory.ReadWrite.All", "Group.ManageProtection.All", "Group.Read.All",
                      "Group.ReadWrite.All", "GroupMember.Read.All")),
    RoutePermissions("/groups/{id}", "group-get", ("GroupMember.Read.All",),
                     ("Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Group.Read.All")),
    RoutePermissions("/groups/{id}/members", "group-list-members", ("GroupMember.Read.All",),
                     ("Directory.Read.All", "Group.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All")),
    RoutePermissions("/groups/{id}/transitiveMembers", "group-list-transitivemembers", ("GroupMember.ReadBasic.All",),
                     ("Directory.Read.All", "Group.Read.All", "Group.ReadBasic.All", "Group.ReadWrite.All",
                      "GroupMember.Read.All", "GroupMember.ReadWrite.All")),
)
BY_ROUTE = {row.route: row for row in TABLE}

# A directoryObject collection (owners, members) shows an object in full only when the caller may read its type
# (the type's "get" table); otherwise only `id` and `@odata.type`, every other property null (the "limited
# information" note, microsoft-graph-docs-contrib: api-reference/includes/limited-info.md, on the owners pages).
READ_TYPE = {"user": BY_ROUTE["/users/{id}"], "servicePrincipal": BY_ROUTE["/servicePrincipals{KEY}"],
             "group": BY_ROUTE["/groups/{id}"]}


def can_read_type(kind: str, roles: frozenset[str]) -> bool:
    row = READ_TYPE.get(kind)
    return row is None or bool(roles & row.sufficient)
