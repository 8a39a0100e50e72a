"""Application access policies and RBAC for Applications, as Exchange Online evaluates them.

Access-policy semantics (Microsoft's documented order, docs/microsoft-facts.md) for one app and one mailbox:
a matching DenyAccess denies; else a matching RestrictAccess grants; else, if the app has any
RestrictAccess policy, deny; else grant. A policy "matches" when its scope is the mailbox itself or a group
holding the mailbox directly or through nested groups. `AppId` `*` applies to every app alongside the app's
own policies. Policies whose IsValid is false (scope missing or not a security principal) take no part.

RBAC for Applications: a role assignment is organisation-wide, limited to a management scope's
RecipientRestrictionFilter, or limited to the DIRECT members of a group (nested groups are not in scope).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.emulator.exchange import opath
from auditor.emulator.exchange.directory import Directory, Recipient
from auditor.errors import TenantFileError

GRANTED = "Granted"
DENIED = "Denied"


@dataclass(frozen=True)
class AccessPolicy:
    app_id: str
    scope_ref: str  # PolicyScopeGroupId as configured
    access_right: str  # RestrictAccess | DenyAccess
    description: str
    scope: Recipient | None

    @property
    def is_valid(self) -> bool:
        return self.scope is not None and self.scope.is_valid_security_principal

    def applies_to_app(self, app_id: str) -> bool:
        return self.app_id == "*" or self.app_id.lower() == app_id.lower()

    def covers(self, directory: Directory, mailbox: Recipient) -> bool:
        if self.scope is None:
            return False
        if self.scope.key == mailbox.key:
            return True
        return self.scope.kind == "group" and mailbox.key in directory.transitive_members(self.scope)


def load_policies(raw_policies: Iterable[Mapping[str, Any]], directory: Directory) -> list[AccessPolicy]:
    """One AccessPolicy per (policy, AppId); a list of AppIds expands as New-ApplicationAccessPolicy does."""
    policies: list[AccessPolicy] = []
    for raw in raw_policies:
        app_ids = raw.get("AppId")
        scope_ref = str(raw.get("PolicyScopeGroupId") or "")
        found = directory.resolve(scope_ref)
        for app_id in app_ids if isinstance(app_ids, list) else [app_ids]:
            policies.append(
                AccessPolicy(
                    app_id=str(app_id),
                    scope_ref=scope_ref,
                    access_right=str(raw.get("AccessRight") or "RestrictAccess"),
                    description=str(raw.get("Description") or ""),
                    scope=found[0] if len(found) == 1 else None,
                )
            )
    return policies


def check_access(policies: Sequence[AccessPolicy], directory: Directory, app_id: str, mailbox: Recipient) -> str:
    """`Granted` or `Denied`, exactly as Test-ApplicationAccessPolicy computes it."""
    relevant = [p for p in policies if p.is_valid and p.applies_to_app(app_id)]
    if any(p.access_right == "DenyAccess" and p.covers(directory, mailbox) for p in relevant):
        return DENIED
    restrict = [p for p in relevant if p.access_right == "RestrictAccess"]
    if any(p.covers(directory, mailbox) for p in restrict):
        return GRANTED
    return DENIED if restrict else GRANTED


@dataclass(frozen=True)
class ServicePrincipal:
    app_id: str
    object_id: str
    display_name: str

    def matches(self, identity: str) -> bool:
        text = identity.lower()
        return text in (self.app_id.lower(), self.object_id.lower(), self.display_name.lower())


@dataclass(frozen=True)
class ManagementScope:
    name: str
    filter_text: str
    node: opath.Node

    def includes(self, recipient: Recipient) -> bool:
        return self.node.evaluate(recipient.attribute)


@dataclass(frozen=True)
class RoleAssignment:
    name: str
    role: str
    app_ref: str  # the `App` value: the Exchange service principal's ObjectId
    principal: ServicePrincipal | None
    custom_scope: ManagementScope | None
    group_ref: str | None
    group: Recipient | None

    @property
    def write_scope(self) -> str:
        if self.custom_scope is not None:
            return "CustomRecipientScope"
        if self.group_ref:
            return "Group"
        return "Organization"

    @property
    def group_address(self) -> str | None:
        if self.group is not None:
            return self.group.primary_smtp_address
        return self.group_ref or None

    def in_scope(self, directory: Directory, mailbox: Recipient) -> bool:
        if self.custom_scope is not None:
            return self.custom_scope.includes(mailbox)
        if self.group_ref:
            return self.group is not None and any(m.key == mailbox.key for m in directory.direct_members(self.group))
        return True


class Rbac:
    """Exchange service principals, management scopes and role assignments of the tenant."""

    def __init__(self, exchange: Mapping[str, Any], directory: Directory):
        self.service_principals = [
            ServicePrincipal(
                str(sp.get("AppId") or ""), str(sp.get("ObjectId") or ""), str(sp.get("DisplayName") or "")
            )
            for sp in exchange.get("servicePrincipals") or ()
        ]
        self.scopes = [_load_scope(i, raw) for i, raw in enumerate(exchange.get("managementScopes") or ())]
        scopes = {s.name.lower(): s for s in self.scopes}
        self.assignments: list[RoleAssignment] = []
        for raw in exchange.get("managementRoleAssignments") or ():
            app_ref = str(raw.get("App") or "")
            scope_name = raw.get("CustomResourceScope")
            group_ref = raw.get("RecipientGroupScope")
            groups = directory.resolve(group_ref, kinds=("group",)) if group_ref else []
            self.assignments.append(
                RoleAssignment(
                    name=str(raw.get("Name") or ""),
                    role=str(raw.get("Role") or ""),
                    app_ref=app_ref,
                    principal=next((sp for sp in self.service_principals if sp.matches(app_ref)), None),
                    custom_scope=scopes.get(str(scope_name).lower()) if scope_name else None,
                    group_ref=str(group_ref) if group_ref else None,
                    group=groups[0] if len(groups) == 1 else None,
                )
            )

    def find_principals(self, identity: str) -> list[ServicePrincipal]:
        return [sp for sp in self.service_principals if sp.matches(identity)]

    def assignments_of(self, principal: ServicePrincipal) -> list[RoleAssignment]:
        return [a for a in self.assignments if a.principal == principal]


def check_management_scopes(exchange: Mapping[str, Any]) -> None:
    """Refuse (TenantFileError, one line naming the scope) a RecipientRestrictionFilter outside the subset;
    for a loader that wants the check at load time. ExchangeService makes it when constructed."""
    for index, raw in enumerate(exchange.get("managementScopes") or ()):
        _load_scope(index, raw)


def _load_scope(index: int, raw: Mapping[str, Any]) -> ManagementScope:
    name = str(raw.get("Name") or "")
    text = raw.get("RecipientRestrictionFilter")
    try:
        node = opath.parse(text)  # type: ignore[arg-type]  # parse() refuses non-strings itself
    except opath.OpathError as exc:
        detail = str(exc) if str(exc).startswith("unsupported") else f"unsupported filter: {exc}"
        raise TenantFileError(
            f"managementScopes[{index}] (Name {name!r}): RecipientRestrictionFilter: {detail} in {text!r}"
        ) from None
    return ManagementScope(name=name, filter_text=str(text), node=node)
