"""The Graph reads the audit makes, one `$top=1` call per endpoint family, each with the permission it needs.

Which permission each read needs is Microsoft's table (auditor/collect/http.py NEEDED_PERMISSION; the emulator
enforces the same tables, auditor/emulator/graph_permissions.py; docs/microsoft-facts.md, Microsoft Graph).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditor.collect.graph import OWNER_SELECT, OWNER_TYPE_PERMISSION, is_limited
from auditor.collect.http import COVERS_EVERY_READ, NEEDED_PERMISSION, GraphClient, GraphRequestError, route_of
from auditor.models.graph import GRAPH_APP_ID
from auditor.preflight.model import Need, NeedStatus

CONSENT = ("then grant admin consent (Entra admin center > App registrations > the auditor's app > API permissions "
           "> Grant admin consent)")


def permission_fix(permission: str) -> str:
    narrower = "" if permission == COVERS_EVERY_READ else f" (or {COVERS_EVERY_READ}, which covers every read)"
    return (f"add the Microsoft Graph application permission {permission}{narrower} to the auditor's app, "
            + CONSENT)


def graph_needs(client: GraphClient) -> list[Need]:
    """One Need per endpoint family, in the order the audit reads them."""
    needs: list[Need] = []
    apps = _read(needs, client, "Graph: applications", "/applications?$select=id&$top=1")
    sps = _read(needs, client, "Graph: servicePrincipals", "/servicePrincipals?$select=id&$top=1")
    graph_sp = _read(needs, client, "Graph: servicePrincipals (by appId)",
                     f"/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id", single=True)
    resource = (graph_sp or [{}])[0].get("id")
    _read(needs, client, "Graph: appRoleAssignedTo",
          f"/servicePrincipals/{resource}/appRoleAssignedTo?$select=id&$top=1" if resource else None)
    principal = (sps or [{}])[0].get("id")
    _read(needs, client, "Graph: appRoleAssignments",
          f"/servicePrincipals/{principal}/appRoleAssignments?$select=id&$top=1" if principal else None)
    _read(needs, client, "Graph: oauth2PermissionGrants", "/oauth2PermissionGrants?$select=id&$top=1")
    _read(needs, client, "Graph: users", "/users?$select=id&$top=1")
    app = (apps or [{}])[0].get("id")
    _read(needs, client, "Graph: owners", f"/applications/{app}/owners?$select={OWNER_SELECT}&$top=1" if app else None,
          check=_owners_readable)
    return needs


def _read(needs: list[Need], client: GraphClient, name: str, path: str | None, single: bool = False,
          check: Callable[[list[dict[str, Any]]], Need | None] | None = None) -> list[dict[str, Any]] | None:
    """Append the Need of one read and return its rows (None when it failed or was not made)."""
    if path is None:
        needs.append(Need(name, NeedStatus.UNCHECKED, "check the read it depends on (above) first"))
        return None
    permission = NEEDED_PERMISSION.get(route_of(f"GET {path}"), COVERS_EVERY_READ)
    try:
        doc = client.get(path)
    except GraphRequestError as exc:
        if exc.status == 403:
            needs.append(Need(name, NeedStatus.MISSING, permission_fix(permission)))
        elif single and exc.status == 404:  # no such service principal: the read itself is allowed
            needs.append(Need(name, NeedStatus.OK))
            return []
        else:
            status = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "") if exc.status else "no answer"
            needs.append(Need(name, NeedStatus.UNCHECKED, f"the read failed ({status}); run preflight again",
                              str(exc)))
        return None
    rows = [doc] if single else [r for r in doc.get("value", []) if isinstance(r, dict)]
    found = check(rows) if check else None
    needs.append(found or Need(name, NeedStatus.OK, f"needs {permission}"))
    return rows


def _owners_readable(rows: list[dict[str, Any]]) -> Need | None:
    """Owners Graph listed with limited information (id and @odata.type only): their type is not readable."""
    hidden = sorted({str(o.get("@odata.type")) for o in rows if is_limited(o)})
    if not hidden:
        return None
    needed = " and ".join(OWNER_TYPE_PERMISSION[t] for t in hidden)
    return Need("Graph: owners", NeedStatus.MISSING, permission_fix(needed) + " (owners came back with limited "
                "information: id and @odata.type only)")
