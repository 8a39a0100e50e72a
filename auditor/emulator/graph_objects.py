"""How the emulated Graph renders tenant objects: default properties, $select, polymorphism."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.emulator.graph_query import check_select
from auditor.emulator.tenant import Tenant


@dataclass(frozen=True)
class Kind:
    """A Graph entity type: its known properties and which ones appear without $select."""

    name: str
    props: frozenset[str]
    default: tuple[str, ...] | None = None  # None: every stored property
    hidden: frozenset[str] = frozenset()  # relationships stored on the object, never rendered
    filterable: tuple[str, ...] = ("id",)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CREDS = " keyCredentials passwordCredentials"
APPLICATION = Kind(
    "application",
    _names(
        "id appId displayName description createdDateTime deletedDateTime identifierUris publisherDomain"
        " requiredResourceAccess signInAudience tags notes appRoles api web info uniqueName" + _CREDS
    ),
    hidden=frozenset({"owners"}),
    filterable=("id", "appId", "displayName"),
)
SERVICE_PRINCIPAL = Kind(
    "servicePrincipal",
    _names(
        "id appId displayName accountEnabled appOwnerOrganizationId appRoles appDisplayName"
        " oauth2PermissionScopes servicePrincipalType servicePrincipalNames tags description homepage"
        " publisherName signInAudience deletedDateTime appRoleAssignmentRequired notes" + _CREDS
    ),
    hidden=frozenset({"owners"}),
    filterable=("id", "appId", "displayName"),
)
# accountEnabled and userType are "returned only on $select", as Graph documents for users.
USER = Kind(
    "user",
    _names(
        "id displayName userPrincipalName mail accountEnabled userType givenName surname jobTitle department"
        " mobilePhone officeLocation businessPhones preferredLanguage createdDateTime otherMails"
        " proxyAddresses onPremisesSyncEnabled mailNickname"
    ),
    default=(
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    ),
    filterable=("id", "mail", "userPrincipalName", "displayName"),
)
GROUP = Kind(
    "group",
    _names(
        "id displayName mail mailEnabled securityEnabled groupTypes description mailNickname proxyAddresses"
        " onPremisesSyncEnabled createdDateTime visibility"
    ),
    hidden=frozenset({"members"}),
    filterable=("id", "mail", "displayName"),
)
APP_ROLE_ASSIGNMENT = Kind(
    "appRoleAssignment",
    _names(
        "id appRoleId createdDateTime deletedDateTime principalDisplayName principalId principalType"
        " resourceDisplayName resourceId"
    ),
    filterable=("id", "principalId", "resourceId", "appRoleId"),
)
GRANT = Kind(
    "oAuth2PermissionGrant",
    _names("id clientId consentType principalId resourceId scope"),
    filterable=("id", "clientId", "consentType", "principalId", "resourceId"),
)
DIRECTORY_OBJECT_FILTERABLE = ("id", "appId", "displayName", "mail", "userPrincipalName")
KINDS = {k.name: k for k in (APPLICATION, SERVICE_PRINCIPAL, USER, GROUP, APP_ROLE_ASSIGNMENT, GRANT)}


class Renderer:
    """Renders objects of one tenant; knows every property name the tenant's objects carry."""

    def __init__(self, tenant: Tenant) -> None:
        graph = tenant.doc["graph"]
        stored = {
            "application": graph["applications"],
            "servicePrincipal": graph["servicePrincipals"],
            "user": graph["users"],
            "group": graph["groups"],
            "appRoleAssignment": graph["appRoleAssignments"],
            "oAuth2PermissionGrant": graph["oauth2PermissionGrants"],
        }
        self.known: dict[str, set[str]] = {}
        for name, kind in KINDS.items():
            keys = {key for obj in stored[name] for key in obj}
            self.known[name] = (set(kind.props) | keys) - kind.hidden
        self.directory_known = self.known["user"] | self.known["servicePrincipal"] | self.known["group"]

    def check_select(self, select: tuple[str, ...] | None, kind_name: str) -> None:
        if kind_name == "directoryObject":
            check_select(select, self.directory_known, "directoryObject")
        else:
            check_select(select, self.known[kind_name], kind_name)

    def render(
        self,
        obj: dict[str, Any],
        kind_name: str,
        select: tuple[str, ...] | None,
        *,
        single: bool = False,
        polymorphic: bool = False,
        limited: bool = False,
    ) -> dict[str, Any]:
        """`limited`: the caller may not read this type; only `id` and `@odata.type` carry values, every other
        property is null (Graph's "limited information" for directoryObject collections)."""
        kind = KINDS[kind_name]
        out: dict[str, Any] = {}
        if polymorphic:
            out["@odata.type"] = f"#microsoft.graph.{kind.name}"
        if select:
            props: tuple[str, ...] | list[str] = [p for p in select if not polymorphic or p in self.known[kind_name]]
        elif kind.default:
            props = kind.default
        else:
            props = [key for key in obj if key not in kind.hidden]
        for prop in props:
            if limited and prop != "id":
                out[prop] = None
                continue
            value = obj.get(prop, [] if prop == "businessPhones" else None)
            if prop == "keyCredentials" and value:
                # The certificate blob comes back only when a single object is read with $select.
                show_key = single and bool(select) and "keyCredentials" in (select or ())
                value = [{**cred, "key": cred.get("key") if show_key else None} for cred in value]
            out[prop] = value
        if limited:
            out["id"] = obj.get("id")
        return out
