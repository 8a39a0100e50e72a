"""The Graph collector: reads what the APP, PERM, CONSENT, CRED, OWN, MBX-002 and TEN checks need.

It prefers resource-side reads (`/servicePrincipals/{graph}/appRoleAssignedTo` lists every app's Graph roles
in a few pages) over one request per app, `$select`s every read, and batches the small per-integration reads.
A failed read marks its section `error` with the reason; it is never an empty list.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from auditor.collect.http import GraphClient, GraphRequestError
from auditor.models.baseline import Baseline
from auditor.models.graph import EXCHANGE_APP_ID, GRAPH_APP_ID
from auditor.models.snapshot import Section, SectionStatus

SP_SELECT = "id,appId,displayName,accountEnabled,appOwnerOrganizationId,passwordCredentials,keyCredentials"
APP_SELECT = "id,appId,displayName,requiredResourceAccess,passwordCredentials,keyCredentials"
RESOURCE_SELECT = "id,appId,displayName,appRoles"
ASSIGNMENT_SELECT = "id,principalId,principalType,resourceId,appRoleId,createdDateTime"
GRANT_SELECT = "id,clientId,consentType,principalId,resourceId,scope"
USER_SELECT = "id,userPrincipalName,mail,accountEnabled,userType"
OWNER_SELECT = "id,displayName,userPrincipalName,mail,accountEnabled,userType,appId"
FILTER_IN_LIMIT = 15  # Graph's default limit on values in an `in` filter
PAGE = 999


def odata_string(value: str) -> str:
    """A quoted OData string literal (single quotes doubled), URL-encoded for a $filter."""
    return quote("'" + value.replace("'", "''") + "'", safe="")


def without_annotations(obj: dict[str, Any]) -> dict[str, Any]:
    """OData control information (@odata.context, @odata.id) is transport, not evidence; @odata.type stays."""
    return {k: v for k, v in obj.items() if not k.startswith("@odata.") or k == "@odata.type"}


# Who may read each owner type in full (Microsoft's "get" tables); without it Graph lists the owner with only
# `id` and `@odata.type`, every other property null (docs/microsoft-facts.md, Microsoft Graph).
OWNER_TYPE_PERMISSION = {"#microsoft.graph.user": "User.Read.All",
                         "#microsoft.graph.servicePrincipal": "Application.Read.All"}
_IDENTIFYING = {"#microsoft.graph.user": "userPrincipalName", "#microsoft.graph.servicePrincipal": "appId"}


def is_limited(owner: dict[str, Any]) -> bool:
    """An owner Graph listed with limited information: its always-present identifying property is null."""
    prop = _IDENTIFYING.get(str(owner.get("@odata.type")))
    return prop is not None and owner.get(prop) is None


def limited_owners_reason(hidden: list[dict[str, Any]]) -> str:
    types = sorted({str(o.get("@odata.type")) for o in hidden})
    needed = " and ".join(OWNER_TYPE_PERMISSION[t] for t in types)
    kinds = " and ".join(t.rsplit(".", 1)[-1] for t in types)
    return (f"{len(hidden)} owner(s) came back with limited information (id and @odata.type only): the auditor's "
            f"app may not read {kinds} objects; it needs the Graph application permission {needed} "
            "(or Directory.Read.All, which covers every read the auditor makes)")


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class GraphCollector:
    filter_in_limit = FILTER_IN_LIMIT
    """Values per `in (...)` look-up (a subclass may ask one by one)."""

    def __init__(self, client: GraphClient, baseline: Baseline) -> None:
        self.client, self.baseline = client, baseline
        self.sweep = baseline.sweep.enabled
        self.app_ids = sorted({i.app_id.lower() for i in baseline.integrations})
        self._resource_cache: dict[str, dict[str, Any] | None] = {}

    def collect(self) -> dict[str, Section]:
        """Independent reads run at once (the client is thread-safe and honours throttling for all of them); a
        read starts as soon as what it needs has arrived. Sections come back in a fixed order."""
        out: dict[str, Section] = {}
        with ThreadPoolExecutor(max_workers=6, thread_name_prefix="graph") as pool:
            sps_f = pool.submit(self._service_principals)
            apps_f = pool.submit(self._applications)
            side_f = pool.submit(self._resource_side)
            users_f = pool.submit(self._users)
            sps = self._settle("graph.servicePrincipals", sps_f, out)
            integration_sps = {s["id"].lower(): s for s in (sps or []) if s.get("appId", "").lower() in self.app_ids}
            assignments_f = pool.submit(self._assignments, integration_sps, side_f)
            grants_f = pool.submit(self._grants, integration_sps)
            apps = self._settle("graph.applications", apps_f, out)
            assignments = self._settle("graph.appRoleAssignments", assignments_f, out)
            resources_f = pool.submit(self._resources, assignments or [], apps or [])
            self._settle("graph.resources", resources_f, out)
            self._settle("graph.oauth2PermissionGrants", grants_f, out)
            self._settle("graph.users", users_f, out)
        return out

    @staticmethod
    def _settle(name: str, read: Future[tuple[str, Any, Any, dict[str, str]]],
                out: dict[str, Section]) -> Any:
        """The section a read produced (`error` when it failed for good); its data, or None."""
        try:
            source, data, queried, item_errors = read.result()
            problem = shape_problem(name, data)
        except GraphRequestError as exc:
            problem = str(exc)
        except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:  # a malformed answer
            problem = f"{_shape(name)}: {type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
        if problem is not None:
            out[name] = Section(name, source=f"graph:{name.split('.', 1)[1]}", status=SectionStatus.ERROR,
                                error=problem)
            return None
        out[name] = Section(name, source=source, status=SectionStatus.OK, data=data,
                            queried=tuple(queried) if queried is not None else None, item_errors=item_errors)
        return data

    # -- reads ----------------------------------------------------------------------------------

    def _service_principals(self) -> tuple[str, Any, list[str] | None, dict[str, str]]:
        if self.sweep:
            data = self.client.get_all(f"/servicePrincipals?$select={SP_SELECT}&$top={PAGE}")
            return "graph:GET /servicePrincipals", data, None, {}
        data = self._by_app_id("/servicePrincipals", SP_SELECT)
        return "graph:GET /servicePrincipals?$filter=appId in (...)", data, list(self.app_ids), {}

    def _applications(self) -> tuple[str, Any, list[str] | None, dict[str, str]]:
        if self.sweep:
            data = self.client.get_all(f"/applications?$select={APP_SELECT}&$top={PAGE}")
            queried = None
        else:
            data = self._by_app_id("/applications", APP_SELECT)
            queried = list(self.app_ids)
        item_errors: dict[str, str] = {}
        ours = {a["id"]: a for a in data if str(a.get("appId", "")).lower() in self.app_ids}
        paths = {oid: f"/applications/{oid}/owners?$select={OWNER_SELECT}&$top={PAGE}" for oid in ours}
        for oid, result in self.client.batch(paths, "GET /applications/{id}/owners").items():
            if isinstance(result, GraphRequestError):
                item_errors[f"owners:{ours[oid]['appId'].lower()}"] = str(result)
            else:
                owners = self._rest(result)
                hidden = [o for o in owners if is_limited(o)]
                if hidden:
                    item_errors[f"owners:{ours[oid]['appId'].lower()}"] = limited_owners_reason(hidden)
                else:
                    ours[oid]["owners"] = owners
        source = "graph:GET /applications" + ("" if self.sweep else "?$filter=appId in (...)")
        return source + " + /applications/{id}/owners", data, queried, item_errors

    def _by_app_id(self, collection: str, select: str) -> list[dict[str, Any]]:
        paths = {}
        for i, group in enumerate(chunks(self.app_ids, self.filter_in_limit)):
            values = ",".join(odata_string(a) for a in group)
            paths[str(i)] = f"{collection}?$filter=appId%20in%20({values})&$select={select}&$top={PAGE}"
        rows: list[dict[str, Any]] = []
        for result in self.client.batch(paths, f"GET {collection}").values():
            if isinstance(result, GraphRequestError):
                raise result
            rows += self._rest(result)
        return sorted(rows, key=lambda r: r["appId"])

    def _rest(self, first_page: dict[str, Any]) -> list[dict[str, Any]]:
        """A batch item's value plus any further pages."""
        rows = list(first_page.get("value", []))
        if first_page.get("@odata.nextLink"):
            rows += self.client.get_all(first_page["@odata.nextLink"])
        return rows

    def _resource_side(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Graph's and Exchange's resource principals (both reads at once) and, for the sweep, every app's roles on
        them from the resource side: (resource id, assignments) per resource present in the tenant."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="graph-resource") as pool:
            return [r for r in pool.map(self._assigned_to, (GRAPH_APP_ID, EXCHANGE_APP_ID)) if r is not None]

    def _assigned_to(self, app_id: str) -> tuple[str, list[dict[str, Any]]] | None:
        if not self.sweep:
            with contextlib.suppress(GraphRequestError):  # fetched early for graph.resources, which reports errors
                self._resource_by_app_id(app_id)
            return None
        resource = self._resource_by_app_id(app_id)
        if resource is None:
            return None
        path = f"/servicePrincipals/{resource['id']}/appRoleAssignedTo?$select={ASSIGNMENT_SELECT}&$top={PAGE}"
        return resource["id"], self.client.get_all(path, "GET /servicePrincipals/{id}/appRoleAssignedTo")

    def _assignments(self, integration_sps: dict[str, dict[str, Any]],
                     resource_side: Future[list[tuple[str, list[dict[str, Any]]]]]
                     ) -> tuple[str, Any, list[str], dict[str, str]]:
        rows: dict[str, dict[str, Any]] = {}
        queried: list[str] = []
        item_errors: dict[str, str] = {}
        paths = {sp_id: f"/servicePrincipals/{sp_id}/appRoleAssignments?$select={ASSIGNMENT_SELECT}&$top={PAGE}"
                 for sp_id in integration_sps}
        principal_side = self.client.batch(paths, "GET /servicePrincipals/{id}/appRoleAssignments")
        # Resource side: every app's roles on Graph and Exchange, the two resources the sweep judges.
        for resource_id, assigned in resource_side.result():
            for row in assigned:
                rows[row["id"]] = row
            queried.append(f"resource:{resource_id.lower()}")
        for sp_id, result in principal_side.items():
            if isinstance(result, GraphRequestError):
                item_errors[f"principal:{sp_id}"] = str(result)
                continue
            for row in self._rest(result):
                rows[row["id"]] = row
            queried.append(f"principal:{sp_id}")
        source = ("graph:GET /servicePrincipals/{resource}/appRoleAssignedTo + " if self.sweep else "graph:") + \
            "GET /servicePrincipals/{id}/appRoleAssignments"
        return source, sorted(rows.values(), key=lambda r: r["id"]), sorted(queried), item_errors

    def _resource_by_app_id(self, app_id: str) -> dict[str, Any] | None:
        cache = self._resource_cache
        if app_id not in cache:
            try:
                cache[app_id] = self.client.get(f"/servicePrincipals(appId='{app_id}')?$select={RESOURCE_SELECT}",
                                                "GET /servicePrincipals(appId=...)")
            except GraphRequestError as exc:
                if exc.status != 404:
                    raise
                cache[app_id] = None  # the resource is not in this tenant
        return cache[app_id]

    def _resources(self, assignments: list[dict[str, Any]], apps: list[dict[str, Any]]) \
            -> tuple[str, Any, None, dict[str, str]]:
        """Graph, Exchange, and every resource an integration requests, holds a role on, or the baseline names."""
        found: dict[str, dict[str, Any]] = {}
        for app_id in (GRAPH_APP_ID, EXCHANGE_APP_ID):
            resource = self._resource_by_app_id(app_id)
            if resource is not None:
                found[resource["id"].lower()] = resource
        # Resources of the roles listed (the integrations' own listings name other resources too).
        wanted_ids = {a["resourceId"].lower() for a in assignments}
        wanted_app_ids = {r["resourceAppId"].lower() for a in apps if a.get("appId", "").lower() in self.app_ids
                          for r in a.get("requiredResourceAccess") or []}
        names = {p.rsplit(":", 1)[0].strip() for i in self.baseline.integrations
                 for p in (*i.permissions, *i.allowed_extra) if ":" in p}
        paths = {f"id:{rid}": f"/servicePrincipals/{rid}?$select={RESOURCE_SELECT}" for rid in wanted_ids - set(found)}
        paths |= {f"app:{aid}": f"/servicePrincipals(appId='{aid}')?$select={RESOURCE_SELECT}"
                  for aid in wanted_app_ids - {r["appId"].lower() for r in found.values()}}
        paths |= {f"name:{n}": f"/servicePrincipals?$filter=displayName%20eq%20{odata_string(n)}"
                              f"&$select={RESOURCE_SELECT}" for n in names}
        for key, result in sorted(self.client.batch(paths, "GET /servicePrincipals/{id}").items()):
            if isinstance(result, GraphRequestError):
                if result.status == 404:
                    continue  # a requested resource that is not in the tenant: checks name it as unresolved
                raise result
            for row in result.get("value", [result]) if key.startswith("name:") else [result]:
                found[row["id"].lower()] = row
        data = [without_annotations(r) for r in sorted(found.values(), key=lambda r: r["appId"])]
        return "graph:GET /servicePrincipals(appId='...')?$select=appRoles", data, None, {}

    def _grants(self, integration_sps: dict[str, dict[str, Any]]) -> tuple[str, Any, list[str], dict[str, str]]:
        paths = {sp_id: f"/oauth2PermissionGrants?$filter=clientId%20eq%20{odata_string(sp_id)}"
                        f"&$select={GRANT_SELECT}" for sp_id in integration_sps}
        rows, queried, item_errors = [], [], {}
        for sp_id, result in self.client.batch(paths, "GET /oauth2PermissionGrants").items():
            if isinstance(result, GraphRequestError):
                item_errors[sp_id] = str(result)
                continue
            rows += self._rest(result)
            queried.append(sp_id)
        rows.sort(key=lambda r: r["id"])
        return "graph:GET /oauth2PermissionGrants?$filter=clientId eq '...'", rows, sorted(queried), item_errors

    def _users(self) -> tuple[str, Any, list[str], dict[str, str]]:
        addresses = sorted({a.lower() for i in self.baseline.integrations for a in (*i.mailboxes, *i.canaries)})
        paths = {}
        for n, group in enumerate(chunks(addresses, self.filter_in_limit)):
            values = ",".join(odata_string(a) for a in group)
            for prop in ("mail", "userPrincipalName"):
                paths[f"{prop}:{n}"] = f"/users?$filter={prop}%20in%20({values})&$select={USER_SELECT}&$top={PAGE}"
        users: dict[str, dict[str, Any]] = {}
        for result in self.client.batch(paths, "GET /users").values():
            if isinstance(result, GraphRequestError):
                raise result
            for row in self._rest(result):
                users[row["id"]] = row
        data = sorted(users.values(), key=lambda u: u["userPrincipalName"].lower())
        return "graph:GET /users?$filter=mail in (...) / userPrincipalName in (...)", data, addresses, {}


IDENTIFIED_BY_APP_ID = frozenset({"graph.servicePrincipals", "graph.applications", "graph.resources"})


def shape_problem(name: str, data: Any) -> str | None:
    """Why a section's rows are not what Graph documents (every object has its `id`; applications and service
    principals their `appId`), or None. Checks and the collector's own joins rely on both."""
    if not isinstance(data, list):
        return f"{_shape(name)}: not a list"
    for row in data:
        if not isinstance(row, dict):
            return f"{_shape(name)}: an entry is {type(row).__name__}, not an object"
        keys = ("id", "appId") if name in IDENTIFIED_BY_APP_ID else ("id",)
        for key in keys:
            if not isinstance(row.get(key), str) or not row.get(key):
                return f"{_shape(name)}: an entry has no {key} (found {type(row.get(key)).__name__})"
    return None


def _shape(name: str) -> str:
    return f"the Microsoft Graph answer for {name} is not in its documented shape"
