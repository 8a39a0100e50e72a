"""Small snapshots and baselines built in code, for check and engine tests.

Everything is Microsoft-shaped (the same property names the collectors write). Role GUIDs here are test data
taken from Microsoft's published tables; the checks themselves never see a hard-coded GUID table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.checks.base import CheckSpec
from auditor.engine import evaluate
from auditor.models.baseline import (
    AuthConfig,
    Baseline,
    ExchangeConfig,
    HistoryConfig,
    Integration,
    PolicyConfig,
    ReportConfig,
    SweepConfig,
    TenantConfig,
    Waiver,
)
from auditor.models.findings import Finding, Status
from auditor.models.snapshot import SECTION_NAMES, Snapshot, snapshot_from_dict
from auditor.models.timeutil import format_datetime

GRAPH = "00000003-0000-0000-c000-000000000000"
EXO = "00000002-0000-0ff1-ce00-000000000000"
TENANT_ID = "11111111-2222-3333-4444-555555555555"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
APP = "e7e4dbfc-046f-4074-9b3b-2ae8f144f59b"
OTHER_APP = "aaaaaaaa-0000-4000-8000-000000000001"

GRAPH_ROLES = {
    "Mail.Read": "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
    "Mail.ReadBasic": "6be147d2-ea4f-4b5a-a3fa-3eab6f3c140a",
    "Mail.ReadWrite": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    "MailboxSettings.Read": "40f97065-369a-49f4-947c-6a255697ae91",
    "Calendars.Read": "798ee544-9d2d-430c-a058-570e29e34338",
    "Contacts.Read": "089fe4d0-434a-44c5-8827-41ba8a0b17f5",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
    "RoleManagement.ReadWrite.Directory": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    "Files.ReadWrite.All": "75359482-378d-4052-8f01-80520e7db3cd",
}
EXO_ROLES = {
    "full_access_as_app": "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
    "Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440",
    "Mail.Read": "c0b5a1d4-0000-4000-8000-00000000e001",
}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def when(days: float) -> str:
    """An ISO date `days` from NOW (negative: in the past)."""
    return format_datetime(NOW + timedelta(days=days))


def secret(start_days: float = -30, end_days: float = 300, name: str = "s") -> dict[str, Any]:
    return {"keyId": _id("cred", name, str(start_days), str(end_days)), "displayName": name,
            "startDateTime": when(start_days), "endDateTime": when(end_days), "hint": "abc"}


def cert(start_days: float = -30, end_days: float = 300, name: str = "c") -> dict[str, Any]:
    return {"keyId": _id("cert", name, str(start_days), str(end_days)), "displayName": name,
            "startDateTime": when(start_days), "endDateTime": when(end_days), "type": "AsymmetricX509Cert",
            "usage": "Verify", "key": None}


def user_owner(upn: str, enabled: bool = True, user_type: str = "Member") -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.user", "id": _id("user", upn), "displayName": upn,
            "userPrincipalName": upn, "mail": upn, "accountEnabled": enabled, "userType": user_type}


def sp_owner(app_id: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.servicePrincipal", "id": _id("sp", app_id), "appId": app_id,
            "displayName": f"SP {app_id[:8]}"}


def sp_id(app_id: str) -> str:
    return _id("sp", app_id.lower())


def exchange_guid(address: str) -> str:
    return _id("exo", address.lower())


class SnapshotBuilder:
    """Builds a snapshot with every section `ok` and complete (queried None) unless told otherwise."""

    def __init__(self, now: datetime = NOW, tenant_id: str = TENANT_ID) -> None:
        self.now, self.tenant_id = now, tenant_id
        self.sections: dict[str, dict[str, Any]] = {
            name: {"source": f"test:{name}", "status": "ok", "error": None, "data": []} for name in SECTION_NAMES}
        self.sections["canaries"]["data"] = {}
        self.sections["exchange.actualScope"]["data"] = None  # derived from the other sections unless set
        self.queues: dict[str, list[str]] = {APP: ["support@contoso.com", "sales@contoso.com"]}
        """Queue mailboxes per app, for the derived actual scope (the collector takes them from the baseline)."""
        self.scope_recipients: dict[str, list[str]] = {}
        """What Get-Recipient -RecipientPreviewFilter returns per management scope name (mailbox addresses)."""
        self.collection: dict[str, Any] = {}
        for app_id, name, roles in ((GRAPH, "Microsoft Graph", GRAPH_ROLES),
                                    (EXO, "Office 365 Exchange Online", EXO_ROLES)):
            resource = {"id": sp_id(app_id), "appId": app_id, "displayName": name,
                        "appRoles": [{"id": rid, "value": value} for value, rid in roles.items()]}
            self.data("graph.resources").append(resource)
            self.data("graph.servicePrincipals").append(
                {"id": sp_id(app_id), "appId": app_id, "displayName": name, "accountEnabled": True,
                 "appOwnerOrganizationId": MICROSOFT_TENANT, "passwordCredentials": [], "keyCredentials": []})

    def data(self, name: str) -> Any:
        return self.sections[name]["data"]

    # -- Graph --------------------------------------------------------------------------------

    def app(self, app_id: str = APP, name: str = "Contact Center", *,
            requested: tuple[str, ...] = ("Mail.ReadWrite", "Mail.Send"), granted: tuple[str, ...] | None = None,
            credentials: list[dict[str, Any]] | None = None, certificates: list[dict[str, Any]] | None = None,
            owners: list[dict[str, Any]] | None = None, application: bool = True, service_principal: bool = True,
            enabled: bool = True, owner_org: str | None = TENANT_ID,
            sp_credentials: list[dict[str, Any]] | None = None) -> str:
        """Adds an app registration and/or its service principal; returns the service principal id.
        Permission names: bare = Graph, "Exchange:value" = Office 365 Exchange Online."""
        if application:
            rra: dict[str, list[dict[str, str]]] = {}
            for perm in requested:
                resource, role = self._role(perm)
                rra.setdefault(resource, []).append({"id": role, "type": "Role"})
            self.data("graph.applications").append({
                "id": _id("app", app_id), "appId": app_id, "displayName": name,
                "requiredResourceAccess": [{"resourceAppId": r, "resourceAccess": a} for r, a in rra.items()],
                "passwordCredentials": credentials if credentials is not None else [secret()],
                "keyCredentials": certificates or [], "owners": owners or []})
        if service_principal:
            self.data("graph.servicePrincipals").append({
                "id": sp_id(app_id), "appId": app_id, "displayName": name, "accountEnabled": enabled,
                "appOwnerOrganizationId": owner_org, "passwordCredentials": sp_credentials or [],
                "keyCredentials": []})
            for perm in requested if granted is None else granted:
                self.grant(app_id, perm)
        return sp_id(app_id)

    def _role(self, perm: str) -> tuple[str, str]:
        if perm.startswith("Exchange:"):
            return EXO, EXO_ROLES[perm.split(":", 1)[1]]
        return GRAPH, GRAPH_ROLES[perm]

    def grant(self, app_id: str, perm: str) -> None:
        resource, role = self._role(perm)
        self.data("graph.appRoleAssignments").append({
            "id": _id("ara", app_id, perm), "principalId": sp_id(app_id), "principalType": "ServicePrincipal",
            "resourceId": sp_id(resource), "appRoleId": role, "createdDateTime": when(-100)})

    def delegated(self, app_id: str, scope: str) -> None:
        self.data("graph.oauth2PermissionGrants").append({
            "id": _id("grant", app_id, scope), "clientId": sp_id(app_id), "consentType": "AllPrincipals",
            "principalId": None, "resourceId": sp_id(GRAPH), "scope": scope})

    def user(self, address: str, enabled: bool = False, user_type: str = "Member") -> None:
        self.data("graph.users").append({"id": _id("user", address), "userPrincipalName": address,
                                         "mail": address, "accountEnabled": enabled, "userType": user_type})

    # -- Exchange -----------------------------------------------------------------------------

    def recipient(self, address: str, kind: str = "SharedMailbox", name: str | None = None) -> dict[str, Any]:
        return {"Name": name or address.split("@")[0], "PrimarySmtpAddress": address,
                "Guid": exchange_guid(address), "ExternalDirectoryObjectId": _id("user", address),
                "RecipientTypeDetails": kind}

    def mailbox(self, address: str, kind: str = "SharedMailbox", user: bool | None = False) -> None:
        """A mailbox (also listed by Get-Recipient); `user` adds its Entra user with that accountEnabled."""
        self.data("exchange.mailboxes").append(self.recipient(address, kind))
        self.data("exchange.recipients").append(self.recipient(address, kind))
        if user is not None:
            self.user(address, enabled=user)

    def group(self, address: str, members: list[str], *, kind: str = "MailUniversalSecurityGroup",
              nested: list[str] | None = None, managed_by: list[str] | None = None, join: str = "Closed",
              member_kinds: dict[str, str] | None = None) -> None:
        """A distribution group; `members` are mailbox addresses, `nested` addresses of groups added separately."""
        kinds = member_kinds or {}
        rows = [self.recipient(m, kinds.get(m, "SharedMailbox")) for m in members]
        rows += [self.recipient(g, "MailUniversalSecurityGroup") for g in nested or []]
        self.data("exchange.groups").append({**self.recipient(address, kind), "ManagedBy": managed_by or [],
                                             "MemberJoinRestriction": join, "Members": rows})
        self.data("exchange.recipients").append(self.recipient(address, kind))

    def policy(self, app_id: str, group_address: str, right: str = "RestrictAccess", valid: bool = True) -> None:
        guid = exchange_guid(group_address)
        self.data("exchange.applicationAccessPolicies").append({
            "Identity": f"{self.tenant_id}\\{app_id}:S-1-5-21-1-2-3-4;{guid}", "AppId": app_id,
            "ScopeName": group_address.split("@")[0], "ScopeIdentity": group_address.split("@")[0],
            "ScopeIdentityRaw": f"S-1-5-21-1-2-3-4;{guid}", "Description": "", "AccessRight": right,
            "ShardType": "All", "IsValid": valid})

    def access_test(self, app_id: str, address: str, result: str) -> None:
        self.data("exchange.accessTests").append({
            "AppId": app_id, "Identity": address, "Mailbox": address.split("@")[0],
            "MailboxId": exchange_guid(address), "MailboxSid": "S-1-5-21-1", "AccessCheckResult": result})

    def exo_service_principal(self, app_id: str) -> None:
        self.data("exchange.servicePrincipals").append(
            {"AppId": app_id, "ObjectId": sp_id(app_id), "DisplayName": f"EXO {app_id[:8]}"})

    def role_assignment(self, app_id: str, name: str, role: str, custom_scope: str | None = None,
                        group_scope: str | None = None) -> None:
        if not any(s["AppId"] == app_id for s in self.data("exchange.servicePrincipals")):
            self.exo_service_principal(app_id)
        write = "CustomRecipientScope" if custom_scope else "Group" if group_scope else "Organization"
        self.data("exchange.roleAssignments").append({
            "Name": name, "Role": role, "RoleAssignee": sp_id(app_id), "RoleAssigneeName": f"EXO {app_id[:8]}",
            "RoleAssigneeType": "ServicePrincipal", "CustomResourceScope": custom_scope,
            "RecipientGroupScope": group_scope, "RecipientWriteScope": write, "Enabled": True})

    def authorization_test(self, app_id: str, address: str, rows: list[tuple[str, bool]]) -> None:
        """rows: (role name, InScope)."""
        self.data("exchange.authorizationTests").append({
            "AppId": app_id, "Resource": address,
            "Rows": [{"RoleName": role, "GrantedPermissions": role.removeprefix("Application "),
                      "AllowedResourceScope": "x", "ScopeType": "CustomRecipientScope", "InScope": in_scope}
                     for role, in_scope in rows]})

    def canaries(self, app_id: str, explicit: list[str], sampled: list[str] | None = None) -> None:
        self.data("canaries")[app_id] = {"explicit": explicit, "sampled": sampled or []}

    # -- section states -----------------------------------------------------------------------

    def fail(self, name: str, error: str = "HTTP 503 from the server") -> None:
        self.sections[name].update(status="error", error=error, data=None)

    def drop(self, name: str) -> None:
        del self.sections[name]

    def queried(self, name: str, keys: list[str]) -> None:
        self.sections[name]["queried"] = keys

    def item_error(self, name: str, key: str, error: str) -> None:
        self.sections[name].setdefault("item_errors", {})[key] = error

    def actual_scope(self) -> dict[str, Any]:
        """exchange.actualScope as the collector would record it from this snapshot's sections: the pure part
        of the collector (auditor.collect.actual_scope) over targets read from the builder's own groups."""
        from auditor.collect.actual_scope import Target, actual_scope_section
        from auditor.models.snapshot import Section, SectionStatus

        def section(name: str) -> Section:
            raw = self.sections.get(name) or {"source": "", "status": "error", "error": "dropped"}
            return Section(name, raw["source"], SectionStatus(raw["status"]), raw.get("error"), raw.get("data"))

        def rows(name: str) -> list[dict[str, Any]]:
            data = section(name).data
            return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

        groups = {str(g.get("Guid")).lower(): g for g in rows("exchange.groups")}
        by_address = {str(g.get("PrimarySmtpAddress")).lower(): g for g in groups.values()}
        mailboxes = {str(m.get("PrimarySmtpAddress")).lower(): m for m in rows("exchange.mailboxes")}

        def nested(guid: str) -> Target:
            target, seen, queue = Target(str(groups[guid].get("PrimarySmtpAddress"))), {guid}, [guid]
            while queue:
                for m in groups[queue.pop()].get("Members") or []:
                    inner = str(m["Guid"]).lower()
                    if str(m.get("RecipientTypeDetails")).endswith("Group"):
                        if inner in groups and inner not in seen:
                            seen.add(inner)
                            queue.append(inner)
                    elif m.get("RecipientTypeDetails") in ("UserMailbox", "SharedMailbox", "RoomMailbox",
                                                           "EquipmentMailbox"):
                        target.mailboxes[str(m.get("PrimarySmtpAddress")).lower()] = m
            return target

        targets: dict[str, Target] = {}
        for policy in rows("exchange.applicationAccessPolicies"):
            guid = str(policy.get("ScopeIdentityRaw") or ";").split(";")[1].lower()
            key = f"policy:{policy.get('Identity')}"
            targets[key] = nested(guid) if guid in groups else Target(str(policy.get("ScopeName")),
                                                                      error="no such group")
        for a in rows("exchange.roleAssignments"):
            key = f"rbac:{a.get('Name')}"
            if a.get("CustomResourceScope"):
                found = self.scope_recipients.get(a["CustomResourceScope"])
                targets[key] = Target(a["CustomResourceScope"], {m: mailboxes.get(m, {}) for m in found or ()},
                                      None if found is not None else "RecipientPreviewFilter was not run")
            elif a.get("RecipientGroupScope"):
                group = by_address.get(str(a["RecipientGroupScope"]).lower())
                targets[key] = Target(a["RecipientGroupScope"], {
                    str(m.get("PrimarySmtpAddress")).lower(): m for m in (group or {}).get("Members") or []
                    if not str(m.get("RecipientTypeDetails")).endswith("Group")})
            else:
                targets[key] = Target("Organization")
        pool = [m for m in mailboxes.values()
                if m.get("RecipientTypeDetails") in ("UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox")]
        apps = list(self.queues.items())
        built, _ = actual_scope_section(apps, section("exchange.applicationAccessPolicies"),
                                        section("exchange.roleAssignments"), section("exchange.servicePrincipals"),
                                        targets, pool, None)
        return built.data

    def to_dict(self) -> dict[str, Any]:
        scope = self.sections.get("exchange.actualScope")
        if scope is None:
            return {"schema_version": 1, "tenant": {"id": self.tenant_id, "domain": "contoso.onmicrosoft.com",
                                                    "name": "Contoso"},
                    "collected_at": format_datetime(self.now), "tool_version": "test", "baseline_hash": "",
                    "collection": self.collection, "sections": self.sections}
        if scope["status"] == "ok" and scope["data"] is None:
            scope = {**scope, "data": self.actual_scope()}
        return {"schema_version": 1, "tenant": {"id": self.tenant_id, "domain": "contoso.onmicrosoft.com",
                                                "name": "Contoso"},
                "collected_at": format_datetime(self.now), "tool_version": "test", "baseline_hash": "",
                "collection": self.collection, "sections": {**self.sections, "exchange.actualScope": scope}}

    def build(self) -> Snapshot:
        return snapshot_from_dict(self.to_dict(), origin="test snapshot")


def integration(**overrides: Any) -> Integration:
    values: dict[str, Any] = dict(
        name="Contact Center", app_id=APP, permissions=("Mail.ReadWrite", "Mail.Send"), allowed_extra=(),
        scope_group="cctr_sec_group@contoso.com", mailboxes=("support@contoso.com", "sales@contoso.com"),
        canaries=(), access_model="policy", group_managers=None, owners=None)
    values.update(overrides)
    for key in ("permissions", "allowed_extra", "mailboxes", "canaries"):
        values[key] = tuple(values[key])
    return Integration(**values)


def baseline(*integrations: Integration, sweep: SweepConfig | None = None, policy: PolicyConfig | None = None,
             waivers: tuple[Waiver, ...] = ()) -> Baseline:
    return Baseline(source="test-baseline.toml", sha256="0" * 64, tenant=TenantConfig(id=TENANT_ID),
                    auth=AuthConfig(), exchange=ExchangeConfig(), policy=policy or PolicyConfig(),
                    integrations=integrations or (integration(),), sweep=sweep or SweepConfig(), waivers=waivers,
                    history=HistoryConfig(), report=ReportConfig())


@dataclass(frozen=True)
class Outcome:
    findings: tuple[Finding, ...]

    def by_resource(self) -> dict[str, Status]:
        return {f.resource: f.status for f in self.findings}

    def statuses(self) -> set[Status]:
        return {f.status for f in self.findings}

    def only(self) -> Finding:
        assert len(self.findings) == 1, [(f.resource, f.status, f.message) for f in self.findings]
        return self.findings[0]


def run_check(spec: CheckSpec, snap: SnapshotBuilder | Snapshot, base: Baseline | None = None) -> Outcome:
    snapshot = snap.build() if isinstance(snap, SnapshotBuilder) else snap
    result = evaluate(snapshot, base or baseline(), catalog=(spec,))
    return Outcome(tuple(f for f in result.findings if f.check_id == spec.id))


def compliant_tenant() -> SnapshotBuilder:
    """The classic, correct setup: Contact Center app restricted to its queues, nothing else wrong."""
    b = SnapshotBuilder()
    b.app(APP, credentials=[], certificates=[cert()], owners=[user_owner("owner@contoso.com")])
    for address in ("support@contoso.com", "sales@contoso.com"):
        b.mailbox(address, "SharedMailbox", user=False)
        b.access_test(APP, address, "Granted")
    b.mailbox("ceo@contoso.com", "UserMailbox", user=True)
    b.access_test(APP, "ceo@contoso.com", "Denied")
    b.group("cctr_sec_group@contoso.com", ["support@contoso.com", "sales@contoso.com"])
    b.policy(APP, "cctr_sec_group@contoso.com")
    b.canaries(APP, ["ceo@contoso.com"])
    return b
