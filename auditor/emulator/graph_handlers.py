"""Graph v1.0 resources: the routes, the roles each needs, and how each collection is answered."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from auditor.emulator.graph_objects import DIRECTORY_OBJECT_FILTERABLE, KINDS, Renderer
from auditor.emulator.graph_permissions import BY_ROUTE, RoutePermissions, can_read_type
from auditor.emulator.graph_query import Filter, QueryOptions, normalise, page, parse_filter
from auditor.emulator.replies import GraphError
from auditor.emulator.tenant import Tenant

_KEY = r"(?:/(?P<id>[^/()]+)|\(appId='(?P<appid>[^']*)'\))"
ROUTES: list[tuple[str, str]] = [
    # (template relative to /v1.0, handler name); who may call each: graph_permissions.TABLE
    ("/applications", "list_applications"),
    ("/applications{KEY}", "get_application"),
    ("/applications{KEY}/owners", "application_owners"),
    ("/servicePrincipals", "list_service_principals"),
    ("/servicePrincipals{KEY}", "get_service_principal"),
    ("/servicePrincipals{KEY}/appRoleAssignments", "sp_app_role_assignments"),
    ("/servicePrincipals{KEY}/appRoleAssignedTo", "sp_app_role_assigned_to"),
    ("/servicePrincipals{KEY}/oauth2PermissionGrants", "sp_grants"),
    ("/servicePrincipals{KEY}/owners", "sp_owners"),
    ("/oauth2PermissionGrants", "list_grants"),
    ("/users", "list_users"),
    ("/users/{id}", "get_user"),
    ("/groups", "list_groups"),
    ("/groups/{id}", "get_group"),
    ("/groups/{id}/members", "group_members"),
    ("/groups/{id}/transitiveMembers", "group_transitive_members"),
]


@dataclass(frozen=True)
class Route:
    """A GET route: its pattern, its template (for counters), handler name and Microsoft's permission row."""

    pattern: re.Pattern[str]
    template: str
    handler: str
    permissions: RoutePermissions

    @property
    def roles(self) -> frozenset[str]:
        return self.permissions.sufficient


def _compile(template: str) -> re.Pattern[str]:
    body = re.escape(template).replace(re.escape("{KEY}"), _KEY).replace(re.escape("{id}"), r"(?P<id>[^/]+)")
    return re.compile(f"^{body}$")


@dataclass(frozen=True)
class Call:
    """One matched request: path below /v1.0, query options, path parameters (id or appid)."""

    path: str
    options: QueryOptions
    params: dict[str, str]
    advanced: bool
    roles: frozenset[str] = frozenset()  # the caller's application permissions


def _not_found(ref: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{ref}' does not exist or one of its queried reference-property objects are not present.",
    )


class GraphResources:
    """Answers the GET routes of one tenant; each handler returns the JSON payload."""

    def __init__(self, tenant: Tenant, base_url: str) -> None:
        self.tenant = tenant
        self.base_url = base_url
        self.renderer = Renderer(tenant)
        self.routes = [Route(_compile(t), t, h, BY_ROUTE[t]) for t, h in ROUTES]
        # (id of a top-level list, property) -> normalised value -> positions; those lists never change.
        self._stable = {id(items) for items in tenant.doc["graph"].values() if isinstance(items, list)}
        self._indexes: dict[tuple[int, str], dict[Any, list[int]]] = {}

    # -- rendering helpers -----------------------------------------------------------------------

    def _collection(
        self, call: Call, items: list[Any], kind: str, context: str, *, polymorphic: bool = False
    ) -> dict[str, Any]:
        options = call.options
        filterable = DIRECTORY_OBJECT_FILTERABLE if polymorphic else KINDS[kind].filterable
        self.renderer.check_select(options.select, "directoryObject" if polymorphic else kind)
        if options.filter is not None:
            condition = parse_filter(options.filter, filterable, kind, advanced=call.advanced)
            items = [i for i in items if condition(i[1])] if polymorphic else self._filtered(items, condition)
        chunk, next_link = page(items, call.path, options, self.base_url)
        if polymorphic:
            value = [self.renderer.render(obj, k, options.select, polymorphic=True,
                                          limited=not can_read_type(k, call.roles)) for k, obj in chunk]
        else:
            value = [self.renderer.render(obj, kind, options.select) for obj in chunk]
        payload: dict[str, Any] = {
            "@odata.context": f"{self.base_url}/v1.0/$metadata#{context}",
            "value": value,
        }
        if next_link:
            payload["@odata.nextLink"] = next_link
        return payload

    def _filtered(self, items: list[dict[str, Any]], condition: Filter) -> list[dict[str, Any]]:
        """Matching items in their stored order, through a per-property index (tenants can be large)."""
        if id(items) not in self._stable:
            return [obj for obj in items if condition(obj)]
        key = (id(items), condition.prop)
        index = self._indexes.get(key)
        if index is None:
            index = {}
            for position, obj in enumerate(items):
                index.setdefault(normalise(obj.get(condition.prop)), []).append(position)
            self._indexes[key] = index
        positions = sorted(p for value in condition.values for p in index.get(value, []))
        return [items[p] for p in positions]

    def _entity(self, call: Call, obj: dict[str, Any], kind: str, entity_set: str) -> dict[str, Any]:
        self.renderer.check_select(call.options.select, kind)
        body = self.renderer.render(obj, kind, call.options.select, single=True)
        return {"@odata.context": f"{self.base_url}/v1.0/$metadata#{entity_set}/$entity", **body}

    def _directory_objects(self, ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
        found = (self.tenant.directory_object(object_id) for object_id in ids)
        return [item for item in found if item is not None and item[0] != "application"]

    def _app(self, call: Call) -> dict[str, Any]:
        if "appid" in call.params:
            found = self.tenant.applications_by_app_id.get(call.params["appid"].lower())
        else:
            found = self.tenant.applications_by_id.get(call.params["id"].lower())
        if found is None:
            raise _not_found(call.params.get("appid") or call.params["id"])
        return found

    def _sp(self, call: Call) -> dict[str, Any]:
        if "appid" in call.params:
            found = self.tenant.service_principals_by_app_id.get(call.params["appid"].lower())
        else:
            found = self.tenant.service_principals_by_id.get(call.params["id"].lower())
        if found is None:
            raise _not_found(call.params.get("appid") or call.params["id"])
        return found

    def _group(self, call: Call) -> dict[str, Any]:
        found = self.tenant.groups_by_id.get(call.params["id"].lower())
        if found is None:
            raise _not_found(call.params["id"])
        return found

    # -- handlers --------------------------------------------------------------------------------

    def list_applications(self, call: Call) -> dict[str, Any]:
        return self._collection(call, self.tenant.doc["graph"]["applications"], "application", "applications")

    def get_application(self, call: Call) -> dict[str, Any]:
        return self._entity(call, self._app(call), "application", "applications")

    def application_owners(self, call: Call) -> dict[str, Any]:
        owners = self._directory_objects(self._app(call)["owners"])
        return self._collection(call, owners, "directoryObject", "directoryObjects", polymorphic=True)

    def list_service_principals(self, call: Call) -> dict[str, Any]:
        sps = self.tenant.doc["graph"]["servicePrincipals"]
        return self._collection(call, sps, "servicePrincipal", "servicePrincipals")

    def get_service_principal(self, call: Call) -> dict[str, Any]:
        return self._entity(call, self._sp(call), "servicePrincipal", "servicePrincipals")

    def sp_app_role_assignments(self, call: Call) -> dict[str, Any]:
        sp = self._sp(call)
        items = self.tenant.assignments_by_principal.get(sp["id"].lower(), [])
        return self._collection(call, items, "appRoleAssignment", f"servicePrincipals('{sp['id']}')/appRoleAssignments")

    def sp_app_role_assigned_to(self, call: Call) -> dict[str, Any]:
        sp = self._sp(call)
        items = self.tenant.assignments_by_resource.get(sp["id"].lower(), [])
        return self._collection(call, items, "appRoleAssignment", f"servicePrincipals('{sp['id']}')/appRoleAssignedTo")

    def sp_grants(self, call: Call) -> dict[str, Any]:
        items = self.tenant.grants_by_client.get(self._sp(call)["id"].lower(), [])
        return self._collection(call, items, "oAuth2PermissionGrant", "oauth2PermissionGrants")

    def sp_owners(self, call: Call) -> dict[str, Any]:
        owners = self._directory_objects(self._sp(call)["owners"])
        return self._collection(call, owners, "directoryObject", "directoryObjects", polymorphic=True)

    def list_grants(self, call: Call) -> dict[str, Any]:
        grants = self.tenant.doc["graph"]["oauth2PermissionGrants"]
        return self._collection(call, grants, "oAuth2PermissionGrant", "oauth2PermissionGrants")

    def list_users(self, call: Call) -> dict[str, Any]:
        return self._collection(call, self.tenant.doc["graph"]["users"], "user", "users")

    def get_user(self, call: Call) -> dict[str, Any]:
        ref = call.params["id"].lower()
        user = self.tenant.users_by_id.get(ref) or self.tenant.users_by_upn.get(ref)
        if user is None:
            raise _not_found(call.params["id"])
        return self._entity(call, user, "user", "users")

    def list_groups(self, call: Call) -> dict[str, Any]:
        return self._collection(call, self.tenant.doc["graph"]["groups"], "group", "groups")

    def get_group(self, call: Call) -> dict[str, Any]:
        return self._entity(call, self._group(call), "group", "groups")

    def group_members(self, call: Call) -> dict[str, Any]:
        ids = self.tenant.group_members.get(self._group(call)["id"].lower(), [])
        return self._collection(
            call, self._directory_objects(ids), "directoryObject", "directoryObjects", polymorphic=True
        )

    def group_transitive_members(self, call: Call) -> dict[str, Any]:
        ids = self.tenant.transitive_members(self._group(call)["id"])
        return self._collection(
            call, self._directory_objects(ids), "directoryObject", "directoryObjects", polymorphic=True
        )
