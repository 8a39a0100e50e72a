"""Typed views of the Graph sections, parsed once from Microsoft's property names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.models import parsing as p

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
# appOwnerOrganizationId of first-party Microsoft apps (Microsoft Services and Microsoft's corp tenant).
MICROSOFT_TENANT_IDS = frozenset({"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"})


@dataclass(frozen=True)
class AppRole:
    id: str
    value: str


@dataclass(frozen=True)
class ResourcePrincipal:
    id: str
    app_id: str
    display_name: str
    app_roles: tuple[AppRole, ...]

    def role_by_id(self, role_id: str) -> AppRole | None:
        return next((r for r in self.app_roles if r.id == role_id), None)

    def role_by_value(self, value: str) -> AppRole | None:
        return next((r for r in self.app_roles if r.value == value), None)


@dataclass(frozen=True)
class Credential:
    """A passwordCredential (client secret) or keyCredential (certificate)."""

    key_id: str
    kind: str  # "secret" or "certificate"
    display_name: str
    start: datetime
    end: datetime

    def is_valid(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def is_expired(self, now: datetime) -> bool:
        return self.end <= now


@dataclass(frozen=True)
class Owner:
    id: str
    odata_type: str
    display_name: str
    user_principal_name: str | None
    mail: str | None
    account_enabled: bool | None
    user_type: str | None
    app_id: str | None

    @property
    def is_service_principal(self) -> bool:
        return self.odata_type.endswith("servicePrincipal")


@dataclass(frozen=True)
class RequestedRole:
    resource_app_id: str
    role_id: str


@dataclass(frozen=True)
class Application:
    id: str
    app_id: str
    display_name: str
    requested_roles: tuple[RequestedRole, ...]
    """requiredResourceAccess entries of type Role (application permissions); Scope entries are delegated."""
    credentials: tuple[Credential, ...]
    owners: tuple[Owner, ...] | None
    """None when owners were not collected (the sweep lists every app without them)."""


@dataclass(frozen=True)
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str
    account_enabled: bool
    app_owner_organization_id: str | None
    credentials: tuple[Credential, ...]


@dataclass(frozen=True)
class AppRoleAssignment:
    id: str
    principal_id: str
    resource_id: str
    app_role_id: str


@dataclass(frozen=True)
class PermissionGrant:
    id: str
    client_id: str
    consent_type: str
    resource_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class User:
    id: str
    user_principal_name: str
    mail: str | None
    account_enabled: bool
    user_type: str | None


def parse_resource(obj: Any) -> ResourcePrincipal:
    where = f"resource service principal {obj.get('appId') if isinstance(obj, dict) else obj!r}"
    roles = []
    for i, role in enumerate(p.items(obj, "appRoles", where)):
        roles.append(AppRole(id=p.guid(role, "id", f"{where} appRoles[{i}]"),
                             value=p.text(role, "value", f"{where} appRoles[{i}]")))
    return ResourcePrincipal(id=p.guid(obj, "id", where), app_id=p.guid(obj, "appId", where),
                             display_name=p.text(obj, "displayName", where), app_roles=tuple(roles))


def parse_credentials(obj: Any, where: str) -> tuple[Credential, ...]:
    out = []
    for key, kind in (("passwordCredentials", "secret"), ("keyCredentials", "certificate")):
        for i, cred in enumerate(p.items(obj, key, where)):
            w = f"{where} {key}[{i}]"
            out.append(Credential(key_id=p.guid(cred, "keyId", w), kind=kind,
                                  display_name=p.text(cred, "displayName", w, nullable=True) or "",
                                  start=p.when(cred, "startDateTime", w), end=p.when(cred, "endDateTime", w)))
    return tuple(out)


def parse_owner(obj: Any, where: str) -> Owner:
    odata_type = p.text(obj, "@odata.type", where)
    is_user = odata_type.endswith(".user")
    return Owner(
        id=p.guid(obj, "id", where),
        odata_type=odata_type,
        display_name=(obj.get("displayName") or "") if isinstance(obj, dict) else "",
        user_principal_name=p.text(obj, "userPrincipalName", where, nullable=True) if is_user else None,
        mail=p.text(obj, "mail", where, nullable=True) if is_user else None,
        account_enabled=p.field(obj, "accountEnabled", bool, where) if is_user else None,
        user_type=p.text(obj, "userType", where, nullable=True) if is_user else None,
        app_id=p.guid(obj, "appId", where) if odata_type.endswith("servicePrincipal") else None,
    )


def parse_application(obj: Any) -> Application:
    where = f"application {obj.get('appId') if isinstance(obj, dict) else obj!r}"
    requested = []
    for i, rra in enumerate(p.items(obj, "requiredResourceAccess", where)):
        w = f"{where} requiredResourceAccess[{i}]"
        resource_app_id = p.guid(rra, "resourceAppId", w)
        for j, access in enumerate(p.items(rra, "resourceAccess", w)):
            if p.text(access, "type", f"{w}.resourceAccess[{j}]") == "Role":
                requested.append(RequestedRole(resource_app_id, p.guid(access, "id", f"{w}.resourceAccess[{j}]")))
    owners = None
    if isinstance(obj, dict) and "owners" in obj:
        owners = tuple(parse_owner(o, f"{where} owners[{i}]") for i, o in enumerate(p.items(obj, "owners", where)))
    return Application(id=p.guid(obj, "id", where), app_id=p.guid(obj, "appId", where),
                       display_name=p.text(obj, "displayName", where, nullable=True) or "",
                       requested_roles=tuple(requested), credentials=parse_credentials(obj, where), owners=owners)


def parse_service_principal(obj: Any) -> ServicePrincipal:
    where = f"service principal {obj.get('appId') if isinstance(obj, dict) else obj!r}"
    return ServicePrincipal(
        id=p.guid(obj, "id", where), app_id=p.guid(obj, "appId", where),
        display_name=p.text(obj, "displayName", where, nullable=True) or "",
        account_enabled=p.field(obj, "accountEnabled", bool, where),
        app_owner_organization_id=p.guid(obj, "appOwnerOrganizationId", where, nullable=True),
        credentials=parse_credentials(obj, where),
    )


def parse_assignment(obj: Any) -> AppRoleAssignment:
    where = f"appRoleAssignment {obj.get('id') if isinstance(obj, dict) else obj!r}"
    return AppRoleAssignment(id=p.text(obj, "id", where), principal_id=p.guid(obj, "principalId", where),
                             resource_id=p.guid(obj, "resourceId", where), app_role_id=p.guid(obj, "appRoleId", where))


def parse_grant(obj: Any) -> PermissionGrant:
    where = f"oauth2PermissionGrant {obj.get('id') if isinstance(obj, dict) else obj!r}"
    scope = p.text(obj, "scope", where, nullable=True) or ""
    return PermissionGrant(id=p.text(obj, "id", where), client_id=p.guid(obj, "clientId", where),
                           consent_type=p.text(obj, "consentType", where), resource_id=p.guid(obj, "resourceId", where),
                           scopes=tuple(s for s in scope.split() if s))


def parse_user(obj: Any) -> User:
    where = f"user {obj.get('userPrincipalName') if isinstance(obj, dict) else obj!r}"
    return User(id=p.guid(obj, "id", where), user_principal_name=p.text(obj, "userPrincipalName", where),
                mail=p.text(obj, "mail", where, nullable=True),
                account_enabled=p.field(obj, "accountEnabled", bool, where),
                user_type=p.text(obj, "userType", where, nullable=True))
