"""The emulated Exchange cmdlets over the tenant document, independent of any transport.

`ExchangeCmdlets.invoke(name, parameters)` binds parameters by name (case-insensitive, a positional
argument binds to -Identity) and returns a `CmdletResult`; terminating errors raise `CmdletError`.
Parameter values are data only: nothing is ever parsed or evaluated as PowerShell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.emulator.exchange import exo_filter, exo_mailbox, opath, records
from auditor.emulator.exchange.access import Rbac, check_access, load_policies
from auditor.emulator.exchange.binding import (
    ROLE_ASSIGNEE_TYPE,
    Parameters,
    T,
    bind,
    enum_refused,
    limit,
    text,
    type_filter,
)
from auditor.emulator.exchange.directory import Directory, Recipient
from auditor.emulator.exchange.model import (
    CmdletError,
    CmdletResult,
    ErrorFactory,
    command_not_found,
    parameter_error,
)
from auditor.emulator.realism import realism_of

NOT_MAILBOXES = frozenset({"mailuser", "guestmailuser"})


@dataclass(frozen=True)
class CmdletSpec:
    name: str
    handler: Callable[[ExchangeCmdlets, dict[str, Any]], CmdletResult]
    params: tuple[str, ...]
    mandatory: tuple[str, ...] = ()


class ExchangeCmdlets:
    """Every emulated Exchange cmdlet, computed over one tenant document (thread-safe: read-only state)."""

    def __init__(self, tenant_id: str, doc: Mapping[str, Any], now: datetime):
        exchange = doc.get("exchange") or {}
        self.tenant_id = tenant_id
        self.domain = str((doc.get("tenant") or {}).get("defaultDomain") or "")
        self.directory = Directory(tenant_id, exchange.get("mailboxes") or (), exchange.get("distributionGroups") or ())
        self.policies = load_policies(exchange.get("applicationAccessPolicies") or (), self.directory)
        self.rbac = Rbac(exchange, self.directory)  # raises TenantFileError for a filter outside the subset
        self.errors = ErrorFactory(tenant_id, now)
        self.realism = realism_of(doc)  # the undocumented forms this tenant serves (docs/emulator.md)

    def canonical_name(self, name: str) -> str | None:
        spec = _SPECS.get(name.lower())
        return spec.name if spec else None

    def invoke(self, name: str, parameters: Parameters) -> CmdletResult:
        spec = _SPECS.get(name.lower())
        if spec is None:
            raise CmdletError(command_not_found(name))
        return spec.handler(self, bind(spec.name, spec.params, parameters, spec.mandatory))

    # -- shared by the cmdlets ----------------------------------------------------------------------

    def one_recipient(
        self,
        cmdlet: str,
        identity: Any,
        kinds: Sequence[str],
        result: CmdletResult,
        accept: Callable[[Recipient], bool] = lambda r: True,
    ) -> Recipient | None:
        """The one recipient an identity names, or None after recording a not-found/ambiguous error."""
        found = [r for r in self.directory.resolve(text(identity), kinds) if accept(r)]
        if len(found) > 1:
            result.errors.append(self.errors.ambiguous(cmdlet, identity))
            return None
        if not found:
            result.errors.append(self.errors.not_found(cmdlet, identity))
            return None
        return found[0]


def _is_mailbox(r: Recipient) -> bool:
    return r.kind == "mailbox" and r.recipient_type_details.lower() not in NOT_MAILBOXES


def _is_distribution_group(r: Recipient) -> bool:
    return r.recipient_type_details != "GroupMailbox"  # Microsoft 365 groups have their own cmdlets


def _recipients(
    svc: ExchangeCmdlets,
    cmdlet: str,
    bound: dict[str, Any],
    kinds: Sequence[str],
    accept: Callable[[Recipient], bool],
    result: CmdletResult,
) -> list[Recipient]:
    type_ok = type_filter(bound)
    if "Identity" in bound:
        one = svc.one_recipient(cmdlet, bound["Identity"], kinds, result, accept)
        items = [one] if one is not None and type_ok(one) else []
    else:
        items = [r for r in svc.directory.recipients if r.kind in kinds and accept(r) and type_ok(r)]
    return limit(cmdlet, items, bound, result)


# -- the cmdlets ------------------------------------------------------------------------------------


def _get_mailbox(svc: ExchangeCmdlets, bound: dict[str, Any], exo: bool = False) -> CmdletResult:
    result = CmdletResult()
    name = "Get-EXOMailbox" if exo else "Get-Mailbox"
    for r in _recipients(svc, name, bound, ("mailbox",), _is_mailbox, result):
        result.records.append(records.mailbox(r, exo))
    return result


def _get_exo_mailbox(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    """The module's bulk cmdlet: property sets, not whole objects (exo_mailbox.py)."""
    result = CmdletResult()
    if "PropertySets" in bound:
        exo_mailbox.property_sets(bound["PropertySets"])  # refused before anything is read, as binding does
    accept = _is_mailbox
    if "Filter" in bound:  # the Get-EXO* dialect (exo_filter.py), refused before anything is read
        node = exo_filter.exo_filter("Get-EXOMailbox", bound["Filter"])
        accept = lambda r: _is_mailbox(r) and exo_filter.matches(node, r)  # noqa: E731
    for r in _recipients(svc, "Get-EXOMailbox", bound, ("mailbox",), accept, result):
        result.records.append(exo_mailbox.exo_mailbox(r, svc.domain, bound))
    return result


def _get_recipient(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    result = CmdletResult()
    accept: Callable[[Recipient], bool] = lambda r: True  # noqa: E731
    if "RecipientPreviewFilter" in bound:
        accept = _preview_filter(bound)
    for r in _recipients(svc, "Get-Recipient", bound, ("mailbox", "group"), accept, result):
        result.records.append(records.recipient(r))
    return result


def _preview_filter(bound: dict[str, Any]) -> Callable[[Recipient], bool]:
    """-RecipientPreviewFilter (its own parameter set, so never with -Identity): the recipients a filter
    selects, as a management scope's RecipientRestrictionFilter would (Get-Recipient.md). Only the OPATH
    subset of opath.py is understood; anything else is refused, never guessed."""
    if "Identity" in bound:
        raise CmdletError(parameter_error(
            "Get-Recipient", "AmbiguousParameterSet",
            "Parameter set cannot be resolved using the specified named parameters."))
    raw = bound["RecipientPreviewFilter"]
    try:
        node = opath.parse(text(raw))
    except opath.OpathError as exc:
        raise CmdletError(parameter_error(
            "Get-Recipient", "ParameterArgumentValidationError",
            f"Cannot bind parameter 'RecipientPreviewFilter' to the target. Invalid filter syntax: {exc}", raw,
        )) from None
    return lambda r: node.evaluate(r.attribute)


def _get_group(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    result = CmdletResult()
    for r in _recipients(svc, "Get-DistributionGroup", bound, ("group",), _is_distribution_group, result):
        result.records.append(records.group(r))
    return result


def _get_group_member(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    result = CmdletResult()
    group = svc.one_recipient("Get-DistributionGroupMember", bound["Identity"], ("group",), result)
    if group is not None:
        members = limit("Get-DistributionGroupMember", svc.directory.direct_members(group), bound, result)
        result.records.extend(records.member(m) for m in members)
    return result


def _get_policy(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    """Like Exchange, an -Identity that names no policy returns every policy. A tenant without any policy
    answers an empty list, or (realism noPolicies=error) a terminating not-found error, as Microsoft365DSC
    reports for tenants that never had one (docs/microsoft-facts.md)."""
    if not svc.policies and svc.realism.no_policies == "error":
        raise CmdletError(svc.errors.not_found("Get-ApplicationAccessPolicy", svc.tenant_id))
    entra = svc.realism.scope_identity_guid == "entra_object_id"
    rows = [records.policy(p, svc.directory, svc.tenant_id, entra) for p in svc.policies]
    wanted = text(bound.get("Identity")).lower()
    if wanted:
        chosen = [r for r in rows if wanted in (r.to_string.lower(), r.to_string.split("\\", 1)[-1].lower())]
        rows = chosen or rows
    return CmdletResult(records=rows)


def _test_policy(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    result = CmdletResult()
    app_id = text(bound["AppId"])
    mailbox = svc.one_recipient("Test-ApplicationAccessPolicy", bound["Identity"], ("mailbox",), result)
    if mailbox is not None:
        verdict = check_access(svc.policies, svc.directory, app_id, mailbox)
        result.records.append(records.policy_test(app_id, mailbox, verdict, svc.realism.mailbox_id))
    return result


def _named(
    svc: ExchangeCmdlets,
    cmdlet: str,
    items: Iterable[T],
    identity: Any,
    match: Callable[[T, str], bool],
    result: CmdletResult,
) -> list[T]:
    if identity is None:
        return list(items)
    chosen = [i for i in items if match(i, text(identity).lower())]
    if not chosen:
        result.errors.append(svc.errors.not_found(cmdlet, identity))
    return chosen


def _get_service_principal(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    result = CmdletResult()
    chosen = _named(
        svc,
        "Get-ServicePrincipal",
        svc.rbac.service_principals,
        bound.get("Identity"),
        lambda sp, text: sp.matches(text),
        result,
    )
    result.records.extend(records.service_principal(sp) for sp in chosen)
    return result


def _get_scope(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    result = CmdletResult()
    chosen = _named(
        svc,
        "Get-ManagementScope",
        svc.rbac.scopes,
        bound.get("Identity"),
        lambda s, text: s.name.lower() == text,
        result,
    )
    result.records.extend(records.management_scope(s) for s in chosen)
    return result


def _get_role_assignment(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    """RBAC-for-Applications assignments, plus a few built-in role-group ones when no filter narrows the list.
    `-RoleAssigneeType ServicePrincipal` is undocumented: accepted or refused per the realism profile."""
    result = CmdletResult()
    cmdlet = "Get-ManagementRoleAssignment"
    kind = text(bound.get("RoleAssigneeType")).lower() if "RoleAssigneeType" in bound else None
    if kind == "serviceprincipal" and svc.realism.role_assignee_type_filter != "accepted":
        error = enum_refused(cmdlet, "RoleAssigneeType", text(bound["RoleAssigneeType"]), ROLE_ASSIGNEE_TYPE)
        if svc.realism.role_assignee_type_filter == "terminating_error":
            raise CmdletError(error)
        result.errors.append(error)
        return result
    if kind not in (None, "serviceprincipal"):
        if kind not in {t.lower() for t in ROLE_ASSIGNEE_TYPE[1]}:
            raise CmdletError(enum_refused(cmdlet, "RoleAssigneeType", text(bound["RoleAssigneeType"]),
                                           ROLE_ASSIGNEE_TYPE))
        if kind == "rolegroup" and not ({"RoleAssignee", "Identity"} & set(bound)):
            result.records.extend(records.role_group_assignments(bound.get("Role")))
        return result
    if kind is None and not ({"RoleAssignee", "Identity"} & set(bound)):
        result.records.extend(records.role_group_assignments(bound.get("Role")))
    chosen = list(svc.rbac.assignments)
    if "RoleAssignee" in bound:
        principals = svc.rbac.find_principals(text(bound["RoleAssignee"]))
        if not principals:
            result.errors.append(svc.errors.not_found(cmdlet, bound["RoleAssignee"]))
        chosen = [a for a in chosen if a.principal in principals]
    if "Role" in bound:
        chosen = [a for a in chosen if a.role.lower() == text(bound["Role"]).lower()]
    chosen = _named(svc, cmdlet, chosen, bound.get("Identity"), lambda a, text: a.name.lower() == text, result)
    result.records.extend(records.role_assignment(a) for a in chosen)
    return result


def _test_authorization(svc: ExchangeCmdlets, bound: dict[str, Any]) -> CmdletResult:
    result = CmdletResult()
    cmdlet = "Test-ServicePrincipalAuthorization"
    principals = svc.rbac.find_principals(text(bound["Identity"]))
    if len(principals) != 1:
        error = svc.errors.ambiguous if principals else svc.errors.not_found
        result.errors.append(error(cmdlet, bound["Identity"]))
        return result
    mailbox = None
    if "Resource" in bound:
        # -Resource is a UserIdParameter documented as Name, DN, canonical DN or GUID: an SMTP address (or any
        # other form) is not resolved, like an identity naming nothing (docs/microsoft-facts.md).
        wanted = text(bound["Resource"]).lower()
        mailbox = svc.one_recipient(cmdlet, bound["Resource"], ("mailbox",), result,
                                    lambda r: wanted in (str(r.guid), r.name.lower()))
        if mailbox is None:
            return result
    for a in svc.rbac.assignments_of(principals[0]):
        in_scope: bool | str = "Not Run" if mailbox is None else a.in_scope(svc.directory, mailbox)
        result.records.append(records.authorization(a, in_scope))
    return result


_RECIPIENT_PARAMS = ("Identity", "ResultSize", "RecipientTypeDetails")
_SPECS: dict[str, CmdletSpec] = {
    s.name.lower(): s
    for s in (
        CmdletSpec("Get-ApplicationAccessPolicy", _get_policy, ("Identity",)),
        CmdletSpec("Test-ApplicationAccessPolicy", _test_policy, ("Identity", "AppId"), ("Identity", "AppId")),
        CmdletSpec("Get-DistributionGroup", _get_group, _RECIPIENT_PARAMS),
        CmdletSpec("Get-DistributionGroupMember", _get_group_member, ("Identity", "ResultSize"), ("Identity",)),
        CmdletSpec("Get-Mailbox", _get_mailbox, _RECIPIENT_PARAMS),
        CmdletSpec("Get-EXOMailbox", _get_exo_mailbox, exo_mailbox.PARAMS),
        CmdletSpec("Get-Recipient", _get_recipient, (*_RECIPIENT_PARAMS, "RecipientPreviewFilter")),
        CmdletSpec("Get-ServicePrincipal", _get_service_principal, ("Identity",)),
        CmdletSpec(
            "Get-ManagementRoleAssignment",
            _get_role_assignment,
            ("Identity", "Role", "RoleAssignee", "RoleAssigneeType"),
        ),
        CmdletSpec("Get-ManagementScope", _get_scope, ("Identity",)),
        CmdletSpec("Test-ServicePrincipalAuthorization", _test_authorization, ("Identity", "Resource"), ("Identity",)),
    )
}
CMDLET_NAMES = tuple(s.name for s in _SPECS.values())
