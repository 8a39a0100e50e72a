"""Shape checks, defaults and cross-reference checks for the emulator's tenant document.

Every problem raises :class:`Invalid` with one line naming the object and field; the loader
prefixes the file name.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cryptography import x509

from auditor.emulator.builtin import builtin_service_principals
from auditor.emulator.clouds import ENVIRONMENT_AUDIENCES
from auditor.emulator.realism import Realism

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ZERO_GUID = "00000000-0000-0000-0000-000000000000"

GRAPH_LISTS = (
    "applications",
    "servicePrincipals",
    "appRoleAssignments",
    "oauth2PermissionGrants",
    "users",
    "groups",
)
EXCHANGE_LISTS = (
    "mailboxes",
    "distributionGroups",
    "applicationAccessPolicies",
    "servicePrincipals",
    "managementScopes",
    "managementRoleAssignments",
)


class Invalid(Exception):
    """A one-line description of what is wrong, without the file name."""


def is_guid(value: object) -> bool:
    return isinstance(value, str) and bool(GUID_RE.match(value))


def where(section: str, index: int, obj: Any, key: str) -> str:
    ident = obj.get(key) if isinstance(obj, dict) else None
    return f"{section}[{index}] ({key} '{ident}')" if isinstance(ident, str) and ident else f"{section}[{index}]"


def require_str(obj: dict[str, Any], at: str, field: str) -> str:
    value = obj.get(field)
    if value is None:
        raise Invalid(f"{at}: missing required field '{field}'")
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{at}: field '{field}' must be a non-empty string")
    return value


def optional_type(obj: dict[str, Any], at: str, field: str, kind: type, default: Any) -> Any:
    value = obj.get(field)
    if value is None:
        obj[field] = default() if callable(default) else default
        return obj[field]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Invalid(f"{at}: field '{field}' must be {_kind_name(kind)}")
    return value


def _kind_name(kind: type) -> str:
    return {str: "a string", list: "a list", bool: "true or false", dict: "an object"}.get(kind, kind.__name__)


def require_date(obj: dict[str, Any], at: str, field: str, *, required: bool = True) -> None:
    value = obj.get(field)
    if value is None:
        if required:
            raise Invalid(f"{at}: missing required field '{field}'")
        return
    if not isinstance(value, str) or parse_date(value) is None:
        raise Invalid(f"{at}: field '{field}' is not an ISO-8601 date or a relative date like 'now+90d': {value!r}")


def parse_date(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def list_of(obj: dict[str, Any], at: str, field: str) -> list[Any]:
    return optional_type(obj, at, field, list, list)


def objects(container: dict[str, Any], section: str, name: str) -> list[Any]:
    items = container.get(name)
    if items is None:
        container[name] = items = []
    if not isinstance(items, list):
        raise Invalid(f"{section}.{name}: must be a list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(f"{section}.{name}[{index}]: must be an object")
    return items


def normalise_sections(doc: dict[str, Any]) -> None:
    """Make every section of the tenant file present (missing lists become [])."""
    for name in ("graph", "exchange", "emulator"):
        value = doc.setdefault(name, {})
        if value is None:
            doc[name] = value = {}
        if not isinstance(value, dict):
            raise Invalid(f"{name}: must be an object")
    for name in GRAPH_LISTS:
        objects(doc["graph"], "graph", name)
    for name in EXCHANGE_LISTS:
        objects(doc["exchange"], "exchange", name)
    objects(doc["emulator"], "emulator", "clients")
    doc["emulator"].setdefault("jumpHost", None)


def check_tenant_section(doc: dict[str, Any]) -> dict[str, Any]:
    tenant = doc.get("tenant")
    if not isinstance(tenant, dict):
        raise Invalid("tenant: missing required object 'tenant'")
    tenant_id = require_str(tenant, "tenant", "id")
    if not is_guid(tenant_id):
        raise Invalid(f"tenant: field 'id' must be a GUID, not {tenant_id!r}")
    require_str(tenant, "tenant", "defaultDomain")
    tenant.setdefault("displayName", tenant["defaultDomain"])
    require_str(tenant, "tenant", "displayName")
    return tenant


def _credentials(obj: dict[str, Any], at: str) -> None:
    for field in ("passwordCredentials", "keyCredentials"):
        for index, cred in enumerate(list_of(obj, at, field)):
            cat = f"{at}.{field}[{index}]"
            if not isinstance(cred, dict):
                raise Invalid(f"{cat}: must be an object")
            require_str(cred, cat, "keyId")
            require_date(cred, cat, "startDateTime")
            require_date(cred, cat, "endDateTime")
            cred.setdefault("displayName", None)
            cred.setdefault("customKeyIdentifier", None)
            if field == "passwordCredentials":
                cred.setdefault("hint", None)
                cred["secretText"] = None  # Graph returns it only in the addPassword response.
            else:
                cred.setdefault("type", "AsymmetricX509Cert")
                cred.setdefault("usage", "Verify")
                cred.setdefault("key", None)


def check_graph_shapes(doc: dict[str, Any], tenant_id: str) -> None:
    graph = doc["graph"]
    app_ids = set()
    for index, app in enumerate(graph["applications"]):
        at = where("graph.applications", index, app, "id")
        for field in ("id", "appId", "displayName"):
            require_str(app, at, field)
        app_ids.add(app["appId"].lower())
        for field in ("requiredResourceAccess", "owners", "identifierUris", "tags"):
            list_of(app, at, field)
        app.setdefault("signInAudience", "AzureADMyOrg")
        _credentials(app, at)
    for index, sp in enumerate(graph["servicePrincipals"]):
        at = where("graph.servicePrincipals", index, sp, "id")
        for field in ("id", "appId", "displayName"):
            require_str(sp, at, field)
        optional_type(sp, at, "accountEnabled", bool, True)
        if sp.get("appOwnerOrganizationId") is None and sp["appId"].lower() in app_ids:
            sp["appOwnerOrganizationId"] = tenant_id
        require_str(sp, at, "appOwnerOrganizationId")
        optional_type(sp, at, "servicePrincipalType", str, "Application")
        for field in ("owners", "tags", "servicePrincipalNames", "oauth2PermissionScopes"):
            list_of(sp, at, field)
        for rindex, role in enumerate(list_of(sp, at, "appRoles")):
            rat = f"{at}.appRoles[{rindex}]"
            if not isinstance(role, dict):
                raise Invalid(f"{rat}: must be an object")
            require_str(role, rat, "id")
            require_str(role, rat, "value")
            role.setdefault("allowedMemberTypes", ["Application"])
            role.setdefault("displayName", role["value"])
            role.setdefault("description", role["displayName"])
            role.setdefault("isEnabled", True)
            role.setdefault("origin", "Application")
        _credentials(sp, at)
    for index, user in enumerate(graph["users"]):
        at = where("graph.users", index, user, "id")
        require_str(user, at, "id")
        require_str(user, at, "userPrincipalName")
        optional_type(user, at, "displayName", str, user["userPrincipalName"])
        optional_type(user, at, "accountEnabled", bool, True)
        optional_type(user, at, "userType", str, "Member")
        user.setdefault("mail", None)
    for index, group in enumerate(graph["groups"]):
        at = where("graph.groups", index, group, "id")
        require_str(group, at, "id")
        require_str(group, at, "displayName")
        optional_type(group, at, "mailEnabled", bool, False)
        optional_type(group, at, "securityEnabled", bool, True)
        list_of(group, at, "groupTypes")
        list_of(group, at, "members")
        group.setdefault("mail", None)


def add_builtins(doc: dict[str, Any], tenant_id: str) -> None:
    """Add the Graph and Exchange resource service principals unless the file defines them."""
    sps = doc["graph"]["servicePrincipals"]
    defined = {sp["appId"].lower() for sp in sps}
    sps.extend(sp for sp in builtin_service_principals(tenant_id) if sp["appId"] not in defined)


def derive_groups(doc: dict[str, Any]) -> None:
    """One Graph group per Exchange distribution group, as Entra shows mail-enabled groups."""
    graph = doc["graph"]
    taken = {
        obj["id"].lower() for name in ("applications", "servicePrincipals", "users", "groups") for obj in graph[name]
    }
    for index, dg in enumerate(doc["exchange"]["distributionGroups"]):
        if dg["ExternalDirectoryObjectId"].lower() in taken:
            at = where("exchange.distributionGroups", index, dg, "Name")
            raise Invalid(f"{at}: ExternalDirectoryObjectId '{dg['ExternalDirectoryObjectId']}' is already used")
        taken.add(dg["ExternalDirectoryObjectId"].lower())
        graph["groups"].append(
            {
                "id": dg["ExternalDirectoryObjectId"],
                "displayName": dg.get("DisplayName") or dg["Name"],
                "mail": dg["PrimarySmtpAddress"],
                "mailEnabled": True,
                "securityEnabled": dg["RecipientTypeDetails"] == "MailUniversalSecurityGroup",
                "groupTypes": [],
            }
        )


def check_exchange_shapes(doc: dict[str, Any]) -> None:
    ex = doc["exchange"]
    for index, mbx in enumerate(ex["mailboxes"]):
        at = where("exchange.mailboxes", index, mbx, "Name")
        for field in ("Name", "PrimarySmtpAddress", "RecipientTypeDetails"):
            require_str(mbx, at, field)
        _optional_guid(mbx, at, "ExternalDirectoryObjectId")
    for index, dg in enumerate(ex["distributionGroups"]):
        at = where("exchange.distributionGroups", index, dg, "Name")
        for field in ("Name", "PrimarySmtpAddress", "RecipientTypeDetails", "ExternalDirectoryObjectId"):
            require_str(dg, at, field)
        _optional_guid(dg, at, "ExternalDirectoryObjectId")
        list_of(dg, at, "Members")
        list_of(dg, at, "ManagedBy")
    for index, pol in enumerate(ex["applicationAccessPolicies"]):
        at = where("exchange.applicationAccessPolicies", index, pol, "AppId")
        for field in ("AppId", "PolicyScopeGroupId", "AccessRight"):
            require_str(pol, at, field)
        if pol["AccessRight"] not in ("RestrictAccess", "DenyAccess"):
            raise Invalid(f"{at}: AccessRight must be RestrictAccess or DenyAccess, not {pol['AccessRight']!r}")
        if pol["AppId"] != "*" and not is_guid(pol["AppId"]):
            raise Invalid(f"{at}: AppId must be a GUID or '*', not {pol['AppId']!r}")
    for index, sp in enumerate(ex["servicePrincipals"]):
        at = where("exchange.servicePrincipals", index, sp, "ObjectId")
        for field in ("AppId", "ObjectId", "DisplayName"):
            require_str(sp, at, field)
    for index, scope in enumerate(ex["managementScopes"]):
        at = where("exchange.managementScopes", index, scope, "Name")
        require_str(scope, at, "Name")
        require_str(scope, at, "RecipientRestrictionFilter")
    for index, ra in enumerate(ex["managementRoleAssignments"]):
        at = where("exchange.managementRoleAssignments", index, ra, "Name")
        for field in ("Name", "Role", "App"):
            require_str(ra, at, field)
        if ra.get("CustomResourceScope") and ra.get("RecipientGroupScope"):
            raise Invalid(f"{at}: set at most one of CustomResourceScope and RecipientGroupScope")


def _optional_guid(obj: dict[str, Any], at: str, field: str) -> None:
    value = obj.get(field)
    if value is not None and not is_guid(value):
        raise Invalid(f"{at}: field '{field}' must be a GUID, not {value!r}")


def check_emulator_shapes(doc: dict[str, Any]) -> None:
    emu = doc["emulator"]
    for index, client in enumerate(emu["clients"]):
        at = where("emulator.clients", index, client, "appId")
        require_str(client, at, "appId")
        if client.get("secret") is None and client.get("certificate") is None:
            raise Invalid(f"{at}: needs 'secret' or 'certificate'")
        for field in ("secret", "certificate", "privateKey"):
            optional_type(client, at, field, str, None)
        require_date(client, at, "secretExpires", required=False)
        _check_denied_cmdlets(client, at)
        if client.get("certificate"):
            try:
                x509.load_pem_x509_certificate(client["certificate"].encode())
            except ValueError:
                raise Invalid(f"{at}: field 'certificate' is not a PEM certificate") from None
    _check_session_settings(emu)
    jump = emu.get("jumpHost")
    if jump is not None:
        if not isinstance(jump, dict):
            raise Invalid("emulator.jumpHost: must be an object")
        require_str(jump, "emulator.jumpHost", "username")
        require_str(jump, "emulator.jumpHost", "password")
    try:  # which undocumented forms Exchange serves (auditor/emulator/realism.py)
        emu["realism"] = Realism.from_mapping(emu.get("realism")).as_dict()
    except ValueError as exc:
        raise Invalid(str(exc)) from None


EXPIRED_TOKEN_FORMS = ("unauthorized", "commandNotFound")


def _check_session_settings(emu: dict[str, Any]) -> None:
    """`tokenLifetimeSeconds` (the lifetime of the tokens the emulated Entra issues), `expiredToken` (how the
    Exchange session answers once its token has expired) and `exchangeEnvironment` (the cloud the REST endpoint
    plays; docs/emulator.md)."""
    lifetime = emu.get("tokenLifetimeSeconds")
    if lifetime is not None and (not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime < 1):
        raise Invalid("emulator.tokenLifetimeSeconds: must be a whole number of seconds, at least 1")
    form = emu.get("expiredToken")
    if form is not None and form not in EXPIRED_TOKEN_FORMS:
        raise Invalid(f"emulator.expiredToken: must be one of {', '.join(EXPIRED_TOKEN_FORMS)}, not {form!r}")
    cloud = emu.get("exchangeEnvironment")
    if cloud is not None and cloud not in ENVIRONMENT_AUDIENCES:
        raise Invalid(f"emulator.exchangeEnvironment: must be one of {', '.join(ENVIRONMENT_AUDIENCES)}, "
                      f"not {cloud!r}")


def _check_denied_cmdlets(client: dict[str, Any], at: str) -> None:
    """`deniedCmdlets`: Exchange cmdlets outside this client's Exchange roles (answered as CommandNotFound)."""
    denied = optional_type(client, at, "deniedCmdlets", list, list)
    for index, name in enumerate(denied):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z]+-[A-Za-z]+", name):
            raise Invalid(f"{at}: deniedCmdlets[{index}] must be a cmdlet name like 'Get-ManagementScope'")
