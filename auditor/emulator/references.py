"""Cross-reference checks for the tenant document (run after shapes, built-ins and derived groups).

For convenience a tenant file may name a service principal by its appId where Graph holds the
object id (appRoleAssignments, oauth2PermissionGrants), and an app role by its value where
Graph holds the role id (appRoleAssignments.appRoleId, requiredResourceAccess[].resourceAccess[].id).
Both are rewritten to the ids Graph would return.
"""

from __future__ import annotations

from typing import Any

from auditor.emulator.validation import ZERO_GUID, Invalid, is_guid, require_date, require_str, where


class _Directory:
    def __init__(self, doc: dict[str, Any]) -> None:
        graph = doc["graph"]
        self.kinds: dict[str, str] = {}
        for kind, items in (
            ("application", graph["applications"]),
            ("servicePrincipal", graph["servicePrincipals"]),
            ("user", graph["users"]),
            ("group", graph["groups"]),
        ):
            for index, obj in enumerate(items):
                key = obj["id"].lower()
                if key in self.kinds:
                    raise Invalid(f"{where('graph.' + kind + 's', index, obj, 'id')}: duplicate object id")
                self.kinds[key] = kind
        self.sp_by_id = {sp["id"].lower(): sp for sp in graph["servicePrincipals"]}
        self.sp_by_app_id: dict[str, dict[str, Any]] = {}
        for index, sp in enumerate(graph["servicePrincipals"]):
            if self.sp_by_app_id.setdefault(sp["appId"].lower(), sp) is not sp:
                raise Invalid(f"{where('graph.servicePrincipals', index, sp, 'id')}: duplicate appId '{sp['appId']}'")
        seen: set[str] = set()
        for index, app in enumerate(graph["applications"]):
            if app["appId"].lower() in seen:
                raise Invalid(f"{where('graph.applications', index, app, 'id')}: duplicate appId '{app['appId']}'")
            seen.add(app["appId"].lower())

    def sp(self, ref: str) -> dict[str, Any] | None:
        """A service principal by object id, else by appId."""
        return self.sp_by_id.get(ref.lower()) or self.sp_by_app_id.get(ref.lower())


def _resolve_role(resource: dict[str, Any], ref: str, field: str = "appRoles") -> str | None:
    for role in resource.get(field, []):
        if role.get("id", "").lower() == ref.lower():
            return role["id"]
    for role in resource.get(field, []):
        if role.get("value") == ref:
            return role["id"]
    return None


def _check_owners(directory: _Directory, obj: dict[str, Any], at: str) -> None:
    for index, owner in enumerate(obj["owners"]):
        if not isinstance(owner, str) or directory.kinds.get(owner.lower()) not in (
            "user",
            "servicePrincipal",
        ):
            raise Invalid(f"{at}: owners[{index}] '{owner}' names no user or service principal")


def _check_required_access(directory: _Directory, app: dict[str, Any], at: str) -> None:
    for index, rra in enumerate(app["requiredResourceAccess"]):
        rat = f"{at}: requiredResourceAccess[{index}]"
        if not isinstance(rra, dict) or not isinstance(rra.get("resourceAccess", []), list):
            raise Invalid(f"{rat} must be an object with a resourceAccess list")
        resource_app_id = require_str(rra, rat, "resourceAppId")
        resource = directory.sp_by_app_id.get(resource_app_id.lower())
        for aindex, access in enumerate(rra.setdefault("resourceAccess", [])):
            aat = f"{rat}.resourceAccess[{aindex}]"
            if not isinstance(access, dict):
                raise Invalid(f"{aat} must be an object")
            ref = require_str(access, aat, "id")
            if access.get("type") not in ("Role", "Scope"):
                raise Invalid(f"{aat}: type must be Role or Scope")
            if is_guid(ref):
                continue  # Entra keeps ids it cannot resolve; so do we.
            field = "appRoles" if access["type"] == "Role" else "oauth2PermissionScopes"
            resolved = _resolve_role(resource, ref, field) if resource else None
            if resolved is None:
                raise Invalid(f"{aat}: id '{ref}' is neither a GUID nor a permission of resource '{resource_app_id}'")
            access["id"] = resolved


def _check_assignments(directory: _Directory, doc: dict[str, Any], now_iso: str) -> None:
    seen: set[str] = set()
    for index, ra in enumerate(doc["graph"]["appRoleAssignments"]):
        at = where("graph.appRoleAssignments", index, ra, "id")
        for field in ("id", "principalId", "resourceId", "appRoleId"):
            require_str(ra, at, field)
        if ra["id"] in seen:
            raise Invalid(f"{at}: duplicate id")
        seen.add(ra["id"])
        ptype = ra.setdefault("principalType", "ServicePrincipal")
        if ptype == "ServicePrincipal":
            principal = directory.sp(ra["principalId"])
            if principal is None:
                raise Invalid(f"{at}: principalId '{ra['principalId']}' names no service principal")
            ra["principalId"] = principal["id"]
            ra["principalDisplayName"] = principal["displayName"]
        elif ptype in ("User", "Group"):
            if directory.kinds.get(ra["principalId"].lower()) != ptype.lower():
                raise Invalid(f"{at}: principalId '{ra['principalId']}' names no {ptype.lower()}")
            ra.setdefault("principalDisplayName", None)
        else:
            raise Invalid(f"{at}: principalType must be ServicePrincipal, User or Group")
        resource = directory.sp(ra["resourceId"])
        if resource is None:
            raise Invalid(f"{at}: resourceId '{ra['resourceId']}' names no service principal")
        ra["resourceId"] = resource["id"]
        ra["resourceDisplayName"] = resource["displayName"]
        role_id = _resolve_role(resource, ra["appRoleId"])
        if role_id is None and not (ra["appRoleId"] == ZERO_GUID and ptype != "ServicePrincipal"):
            name = resource["displayName"]
            raise Invalid(f"{at}: appRoleId '{ra['appRoleId']}' is not an app role of resource '{name}'")
        ra["appRoleId"] = role_id or ZERO_GUID
        ra.setdefault("createdDateTime", now_iso)
        require_date(ra, at, "createdDateTime")
        ra.setdefault("deletedDateTime", None)


def _check_grants(directory: _Directory, doc: dict[str, Any]) -> None:
    seen: set[str] = set()
    for index, grant in enumerate(doc["graph"]["oauth2PermissionGrants"]):
        at = where("graph.oauth2PermissionGrants", index, grant, "id")
        for field in ("id", "clientId", "consentType", "resourceId", "scope"):
            require_str(grant, at, field)
        if grant["id"] in seen:
            raise Invalid(f"{at}: duplicate id")
        seen.add(grant["id"])
        for field in ("clientId", "resourceId"):
            sp = directory.sp(grant[field])
            if sp is None:
                raise Invalid(f"{at}: {field} '{grant[field]}' names no service principal")
            grant[field] = sp["id"]
        grant.setdefault("principalId", None)
        if grant["consentType"] == "Principal":
            principal = grant["principalId"]
            if not isinstance(principal, str) or directory.kinds.get(principal.lower()) != "user":
                raise Invalid(f"{at}: principalId '{principal}' names no user (consentType Principal)")
        elif grant["consentType"] == "AllPrincipals":
            if grant["principalId"] is not None:
                raise Invalid(f"{at}: principalId must be null when consentType is AllPrincipals")
        else:
            raise Invalid(f"{at}: consentType must be AllPrincipals or Principal")


def _check_exchange(directory: _Directory, doc: dict[str, Any]) -> None:
    ex = doc["exchange"]
    addresses: dict[str, str] = {}
    names: set[str] = set()
    for section, items in (("mailboxes", ex["mailboxes"]), ("distributionGroups", ex["distributionGroups"])):
        for index, rcpt in enumerate(items):
            at = where(f"exchange.{section}", index, rcpt, "Name")
            address = rcpt["PrimarySmtpAddress"].lower()
            if address in addresses:
                raise Invalid(f"{at}: PrimarySmtpAddress '{rcpt['PrimarySmtpAddress']}' is already used")
            addresses[address] = section
            if rcpt["Name"].lower() in names:
                raise Invalid(f"{at}: duplicate Name")
            names.add(rcpt["Name"].lower())
    for index, dg in enumerate(ex["distributionGroups"]):
        at = where("exchange.distributionGroups", index, dg, "Name")
        for mindex, member in enumerate(dg["Members"]):
            if not isinstance(member, str) or member.lower() not in addresses:
                raise Invalid(f"{at}: Members[{mindex}] '{member}' names no mailbox or group address")
    sp_ids: set[str] = set()
    for index, sp in enumerate(ex["servicePrincipals"]):
        if sp["ObjectId"].lower() in sp_ids:
            raise Invalid(f"{where('exchange.servicePrincipals', index, sp, 'ObjectId')}: duplicate ObjectId")
        sp_ids.add(sp["ObjectId"].lower())
    scopes: set[str] = set()
    for index, scope in enumerate(ex["managementScopes"]):
        if scope["Name"].lower() in scopes:
            raise Invalid(f"{where('exchange.managementScopes', index, scope, 'Name')}: duplicate Name")
        scopes.add(scope["Name"].lower())
    assignment_names: set[str] = set()
    for index, ra in enumerate(ex["managementRoleAssignments"]):
        at = where("exchange.managementRoleAssignments", index, ra, "Name")
        if ra["Name"].lower() in assignment_names:
            raise Invalid(f"{at}: duplicate Name")
        assignment_names.add(ra["Name"].lower())
        if ra["App"].lower() not in sp_ids:
            raise Invalid(f"{at}: App '{ra['App']}' names no exchange.servicePrincipals ObjectId")
        scope = ra.get("CustomResourceScope")
        if scope is not None and (not isinstance(scope, str) or scope.lower() not in scopes):
            raise Invalid(f"{at}: CustomResourceScope '{scope}' names no managementScopes Name")
        group = ra.get("RecipientGroupScope")
        if group is not None and (not isinstance(group, str) or addresses.get(group.lower()) != "distributionGroups"):
            raise Invalid(f"{at}: RecipientGroupScope '{group}' names no distribution group address")


def check_references(doc: dict[str, Any], now_iso: str) -> None:
    """Validate and resolve every cross reference in place."""
    directory = _Directory(doc)
    graph = doc["graph"]
    for index, app in enumerate(graph["applications"]):
        at = where("graph.applications", index, app, "id")
        _check_owners(directory, app, at)
        _check_required_access(directory, app, at)
    for index, sp in enumerate(graph["servicePrincipals"]):
        _check_owners(directory, sp, where("graph.servicePrincipals", index, sp, "id"))
    for index, group in enumerate(graph["groups"]):
        for mindex, member in enumerate(group.get("members", [])):
            if not isinstance(member, str) or member.lower() not in directory.kinds:
                at = where("graph.groups", index, group, "id")
                raise Invalid(f"{at}: members[{mindex}] '{member}' names no directory object")
    _check_assignments(directory, doc, now_iso)
    _check_grants(directory, doc)
    _check_exchange(directory, doc)
    seen: set[str] = set()
    for index, client in enumerate(doc["emulator"]["clients"]):
        if client["appId"].lower() in seen:
            raise Invalid(f"{where('emulator.clients', index, client, 'appId')}: duplicate appId")
        seen.add(client["appId"].lower())
