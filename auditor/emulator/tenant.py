"""The emulator's tenant: load the JSON tenant file, resolve relative dates, validate, index."""

from __future__ import annotations

import copy
import json
import pathlib
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.emulator.builtin import AUDIENCE_APP_IDS
from auditor.emulator.references import check_references
from auditor.emulator.validation import (
    Invalid,
    add_builtins,
    check_emulator_shapes,
    check_exchange_shapes,
    check_graph_shapes,
    check_tenant_section,
    derive_groups,
    normalise_sections,
)
from auditor.errors import TenantFileError
from auditor.models.wellformed import lone_surrogate_at

_RELATIVE = re.compile(r"^now(?:([+-])(\d+)([dhm]))?$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, the way Graph writes dates."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resolve_dates(value: Any, now: datetime, path: str = "") -> Any:
    if isinstance(value, str):
        match = _RELATIVE.match(value)
        if not match:
            return value
        sign, amount, unit = match.groups()
        try:
            delta = timedelta(**{_UNITS[unit]: int(amount)}) if amount else timedelta()
            return iso(now - delta if sign == "-" else now + delta)
        except OverflowError:  # "now+99999999d": past year 9999
            raise Invalid(f"{path}: date '{value}' is out of range") from None
    if isinstance(value, list):
        return [_resolve_dates(item, now, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _resolve_dates(item, now, f"{path}.{key}" if path else key) for key, item in value.items()}
    return value


@dataclass
class Tenant:
    """A loaded, validated tenant; ``doc`` is the resolved document, the rest are read-only indexes."""

    id: str
    default_domain: str
    display_name: str
    now: datetime
    doc: dict[str, Any]
    source: str = "tenant"
    _loaded_at: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        graph, ex = self.doc["graph"], self.doc["exchange"]
        self.applications_by_id = {a["id"].lower(): a for a in graph["applications"]}
        self.applications_by_app_id = {a["appId"].lower(): a for a in graph["applications"]}
        self.service_principals_by_id = {s["id"].lower(): s for s in graph["servicePrincipals"]}
        self.service_principals_by_app_id = {s["appId"].lower(): s for s in graph["servicePrincipals"]}
        self.users_by_id = {u["id"].lower(): u for u in graph["users"]}
        self.users_by_upn = {u["userPrincipalName"].lower(): u for u in graph["users"]}
        self.groups_by_id = {g["id"].lower(): g for g in graph["groups"]}
        self.clients_by_app_id = {c["appId"].lower(): c for c in self.doc["emulator"]["clients"]}
        self.mailboxes_by_address = {m["PrimarySmtpAddress"].lower(): m for m in ex["mailboxes"]}
        self.distribution_groups_by_address = {g["PrimarySmtpAddress"].lower(): g for g in ex["distributionGroups"]}
        self.assignments_by_principal: dict[str, list[dict[str, Any]]] = {}
        self.assignments_by_resource: dict[str, list[dict[str, Any]]] = {}
        for ra in graph["appRoleAssignments"]:
            self.assignments_by_principal.setdefault(ra["principalId"].lower(), []).append(ra)
            self.assignments_by_resource.setdefault(ra["resourceId"].lower(), []).append(ra)
        self.grants_by_client: dict[str, list[dict[str, Any]]] = {}
        for grant in graph["oauth2PermissionGrants"]:
            self.grants_by_client.setdefault(grant["clientId"].lower(), []).append(grant)
        self.group_members = self._graph_members()

    def _graph_members(self) -> dict[str, list[str]]:
        """Direct Graph members per group id: file-defined members, and derived ones from Exchange."""
        members = {g["id"].lower(): list(g.get("members", [])) for g in self.doc["graph"]["groups"]}
        for dg in self.doc["exchange"]["distributionGroups"]:
            ids = members.setdefault(dg["ExternalDirectoryObjectId"].lower(), [])
            for address in dg["Members"]:
                mailbox = self.mailboxes_by_address.get(address.lower())
                group = self.distribution_groups_by_address.get(address.lower())
                if group is not None:
                    ids.append(group["ExternalDirectoryObjectId"])
                elif mailbox is not None:
                    # A mailbox appears in Graph as its Entra user; one without a user is not shown.
                    user = self.users_by_id.get(str(mailbox.get("ExternalDirectoryObjectId", "")).lower())
                    if user is not None:
                        ids.append(user["id"])
        return members

    def clock(self) -> datetime:
        """The emulator's current time: ``now`` plus the wall time elapsed since loading."""
        return self.now + timedelta(seconds=time.monotonic() - self._loaded_at)

    def matches(self, tenant: str) -> bool:
        """Whether a tenant segment in a URL (id or default domain) names this tenant."""
        return tenant.lower() in (self.id.lower(), self.default_domain.lower())

    def directory_object(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        """(odata type name, object) for a user, service principal or group id."""
        key = object_id.lower()
        for kind, index in (
            ("user", self.users_by_id),
            ("servicePrincipal", self.service_principals_by_id),
            ("group", self.groups_by_id),
            ("application", self.applications_by_id),
        ):
            if key in index:
                return kind, index[key]
        return None

    def roles_for(self, client_app_id: str, audience: str) -> frozenset[str]:
        """Values of the roles of the audience's resource assigned to the client's service principal."""
        client = self.service_principals_by_app_id.get(client_app_id.lower())
        resource = self.service_principals_by_app_id.get(AUDIENCE_APP_IDS.get(audience, audience).lower())
        if client is None or resource is None:
            return frozenset()
        roles = {r["id"].lower(): r for r in resource.get("appRoles", []) if r.get("isEnabled", True)}
        return frozenset(
            roles[ra["appRoleId"].lower()]["value"]
            for ra in self.assignments_by_principal.get(client["id"].lower(), [])
            if ra["resourceId"].lower() == resource["id"].lower() and ra["appRoleId"].lower() in roles
        )

    def transitive_members(self, group_id: str) -> list[str]:
        """Members of a group and of its nested groups (nested groups included), cycles cut."""
        seen: set[str] = {group_id.lower()}
        result: list[str] = []
        queue = deque(self.group_members.get(group_id.lower(), []))
        while queue:
            member = queue.popleft()
            if member.lower() in seen:
                continue
            seen.add(member.lower())
            result.append(member)
            queue.extend(self.group_members.get(member.lower(), []))
        return result


def _read(source: pathlib.Path | dict[str, Any], name: str) -> dict[str, Any]:
    if isinstance(source, dict):
        return copy.deepcopy(source)
    try:
        text = pathlib.Path(source).read_text(encoding="utf-8-sig")  # Windows PowerShell 5.1 writes a BOM
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TenantFileError(f"{name}: cannot read the tenant file: {reason}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TenantFileError(f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise TenantFileError(f"{name}: invalid JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise TenantFileError(f"{name}: the tenant file must hold a JSON object")
    return doc


def load_tenant(
    source: pathlib.Path | dict[str, Any], now: datetime | None = None, *, name: str | None = None
) -> Tenant:
    """Read, resolve and validate a tenant file (or an already-parsed dict).

    Raises TenantFileError with one line naming the file, the object and the field.
    """
    label = name or (str(source) if not isinstance(source, dict) else "tenant")
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    raw = _read(source, label)
    try:
        if (bad := lone_surrogate_at(raw)) is not None:
            raise Invalid(f"{bad}: holds a lone surrogate (\\ud800-\\udfff escape), which is not valid Unicode text")
        doc = _resolve_dates(raw, moment)
        tenant = check_tenant_section(doc)
        normalise_sections(doc)
        check_graph_shapes(doc, tenant["id"])
        check_exchange_shapes(doc)
        check_emulator_shapes(doc)
        add_builtins(doc, tenant["id"])
        derive_groups(doc)
        check_references(doc, iso(moment))
    except Invalid as exc:
        raise TenantFileError(f"{label}: {exc}") from None
    except RecursionError:
        raise TenantFileError(f"{label}: objects nested too deeply") from None
    return Tenant(
        id=tenant["id"],
        default_domain=tenant["defaultDomain"],
        display_name=tenant["displayName"],
        now=moment,
        doc=doc,
        source=label,
    )
