"""The HTML report's integration and sweep sections, built from findings.json's inventory.

The inventory is plain JSON that may come from an older or hand-edited file, and any part of it may be
{"unavailable": reason}; everything here reads it defensively so the template sees complete, typed views.
Verdicts stay with the findings: a view only links an inventory row to the finding that judged it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auditor.models.baseline import LIMITS
from auditor.models.findings import Finding, Status
from auditor.models.timeutil import parse_datetime
from auditor.reports import charts
from auditor.reports.html_headline import without_root_cause

FindingIndex = Mapping[tuple[str, str, str], tuple[Status, str]]
"""(check id, integration, resource) -> (status, anchor of the finding's row)."""

ATTENTION_LIMIT = 12
TIMELINE_WIDTH = 740.0
"""The plot area of the credential timeline, in SVG units (the template puts 250 units of labels before it)."""


@dataclass(frozen=True)
class Unavailable:
    reason: str


@dataclass(frozen=True)
class FindingLink:
    """A link from an inventory row to the finding that judged it."""

    check_id: str
    status: Status
    anchor: str


def _unavailable(value: Any) -> Unavailable | None:
    if isinstance(value, Mapping) and "unavailable" in value:
        return Unavailable(str(value["unavailable"]))
    return None


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _verdict(index: FindingIndex, check_id: str, integration: str, resource: str) -> FindingLink | None:
    hit = index.get((check_id, integration, resource))
    return FindingLink(check_id, hit[0], hit[1]) if hit else None


@dataclass(frozen=True)
class PermissionRow:
    name: str
    baseline: bool
    allowed_extra: bool
    requested: bool | None
    granted: bool | None
    note: str
    verdicts: tuple[FindingLink, ...]
    """The PERM-001, PERM-002 and CONSENT-001 findings that name this permission (or could not judge it)."""

    @property
    def problem(self) -> bool:
        return any(v.status in (Status.FAIL, Status.ERROR) for v in self.verdicts)

    @property
    def waived(self) -> bool:
        return not self.problem and any(v.status is Status.WAIVED for v in self.verdicts)


@dataclass(frozen=True)
class Permissions:
    rows: tuple[PermissionRow, ...]
    requested_unavailable: Unavailable | None
    granted_unavailable: Unavailable | None


PermissionFindings = Mapping[str, tuple[FindingLink, Mapping[str, Any]]]
"""check id -> (link to the integration's PERM-001, PERM-002 or CONSENT-001 finding, that finding's evidence)."""
PERMISSION_CHECKS = ("PERM-001", "PERM-002", "CONSENT-001")


def _named(evidence: Mapping[str, Any], key: str) -> set[str]:
    """The permissions a finding's evidence lists under `key` (a list, or a mapping keyed by permission)."""
    value = evidence.get(key)
    return {str(v) for v in value} if isinstance(value, list | tuple | Mapping) else set()


def _judged(name: str, in_baseline: bool, access_model: str,
            judged: PermissionFindings) -> tuple[list[str], list[FindingLink]]:
    """What the findings say about one permission: their words for it, and links to them."""
    rbac = access_model == "rbac"
    covering = [("PERM-002", "extra", "held through Entra; rbac takes mailbox access from Exchange role assignments"
                 if rbac and in_baseline else "beyond the baseline")]
    if in_baseline:
        covering += [("PERM-001", "missing", "not requested"),
                     ("CONSENT-001", "missing", "no RBAC role assignment grants it" if rbac else "no admin consent")]
    notes, links, unjudged, passed = [], [], [], False
    for check_id, key, words in covering:
        if check_id not in judged:
            continue
        link, evidence = judged[check_id]
        if name in _named(evidence, key):
            notes.append(words)
            links.append(link)
        elif link.status in (Status.ERROR, Status.SKIP):
            unjudged.append(link)
        else:
            passed = passed or link.status is Status.PASS
    links += [v for v in unjudged if v.status is Status.ERROR or not (notes or passed)]
    if not notes and links:
        notes.append("not judged")
    return notes, links


def permissions_view(data: Any, access_model: str, judged: PermissionFindings) -> Permissions | Unavailable:
    """Rows of baseline, requested and granted permissions; whether a row is a problem is the findings' call."""
    if gone := _unavailable(data):
        return gone
    data = data if isinstance(data, Mapping) else {}
    baseline, extra = _strings(data.get("baseline")), _strings(data.get("allowed_extra"))
    requested_gone, granted_gone = _unavailable(data.get("requested")), _unavailable(data.get("granted"))
    requested, granted = set(_strings(data.get("requested"))), set(_strings(data.get("granted")))
    names = list(dict.fromkeys([*baseline, *extra, *_strings(data.get("requested")), *_strings(data.get("granted"))]))
    rows = []
    for name in names:
        req = None if requested_gone else name in requested
        grant = None if granted_gone else name in granted
        notes, links = _judged(name, name in baseline, access_model, judged)
        if not notes:
            used = req or grant or (access_model == "rbac" and name in baseline)
            notes = ["as intended" if used else "allowed, not used"]
        rows.append(PermissionRow(name, name in baseline, name in extra, req, grant, "; ".join(notes), tuple(links)))
    return Permissions(tuple(rows), requested_gone, granted_gone)


def permission_findings(findings: Iterable[tuple[int, Finding]], app_id: str,
                        index: FindingIndex) -> dict[str, tuple[FindingLink, Mapping[str, Any]]]:
    """The integration's app-level PERM-001, PERM-002 and CONSENT-001 findings, linked as the index links them."""
    out: dict[str, tuple[FindingLink, Mapping[str, Any]]] = {}
    for _, f in findings:
        if f.check_id in PERMISSION_CHECKS and f.resource == app_id:
            link = _verdict(index, f.check_id, f.integration, f.resource)
            if link is not None:
                out[f.check_id] = (link, f.evidence)
    return out


@dataclass(frozen=True)
class CredentialRow:
    holder: str
    name: str
    label: str
    """The name shortened to fit the timeline; the table shows it whole."""
    kind: str
    key_id: str
    start: str
    end: str
    days_left: int | None
    state: str
    """valid, expiring, expired or future: also the colour of its bar."""
    span: charts.Span | None


@dataclass(frozen=True)
class Credentials:
    rows: tuple[CredentialRow, ...]
    timeline: charts.Timeline | None
    warning_days: int | None


def _date(value: Any) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _short(cred: Mapping[str, Any], limit: int = 26) -> str:
    text = str(cred.get("displayName") or cred.get("keyId") or "(unnamed)")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def credentials_view(app: Any, service_principal: Any, now: datetime | None, warning_days: int | None) -> Credentials:
    raw = [("Registration", c) for c in (app if isinstance(app, list) else []) if isinstance(c, Mapping)]
    raw += [("Service principal", c) for c in (service_principal if isinstance(service_principal, list) else [])
            if isinstance(c, Mapping)]
    intervals = [(_date(c.get("startDateTime")), _date(c.get("endDateTime"))) for _, c in raw]
    axis = charts.timeline(intervals, now, width=TIMELINE_WIDTH) if now is not None and raw else None
    rows = []
    for i, (holder, cred) in enumerate(raw):
        start, end = intervals[i]
        days = cred.get("days_left")
        days_left = days if isinstance(days, int) and not isinstance(days, bool) else None
        if now is not None and start is not None and start > now:
            state = "future"
        elif (days_left is not None and days_left < 0) or (now is not None and end is not None and end <= now):
            state = "expired"
        elif warning_days is not None and now is not None and end is not None \
                and end <= now + timedelta(days=warning_days):
            state = "expiring"
        else:
            state = "valid"
        rows.append(CredentialRow(
            holder=holder, name=str(cred.get("displayName") or ""), label=_short(cred),
            kind=str(cred.get("type") or ""),
            key_id=str(cred.get("keyId") or ""), start=str(cred.get("startDateTime") or ""),
            end=str(cred.get("endDateTime") or ""), days_left=days_left, state=state,
            span=axis.spans[i] if axis else None))
    return Credentials(tuple(rows), axis, warning_days)


@dataclass(frozen=True)
class Member:
    address: str
    tag: str
    verdict: FindingLink | None


@dataclass(frozen=True)
class Group:
    address: str
    exists: bool
    recipient_type: str
    join_restriction: str
    managed_by: tuple[str, ...]
    members: tuple[Member, ...]
    nested_groups: tuple[Member, ...]
    missing_queues: tuple[Member, ...]


def group_view(data: Any, name: str, queues: list[str], index: FindingIndex) -> Group | Unavailable | None:
    if data is None:
        return None
    if gone := _unavailable(data):
        return gone
    data = data if isinstance(data, Mapping) else {}
    address = str(data.get("address") or "")
    members = _strings(data.get("members"))
    lowered = {m.lower() for m in members}
    return Group(
        address=address, exists=bool(data.get("exists")),
        recipient_type=str(data.get("RecipientTypeDetails") or ""),
        join_restriction=str(data.get("MemberJoinRestriction") or ""),
        managed_by=tuple(_strings(data.get("ManagedBy"))),
        members=tuple(Member(m, "queue mailbox" if m.lower() in queues else "not a queue mailbox",
                             _verdict(index, "GRP-003", name, m)) for m in members),
        nested_groups=tuple(Member(g, "nested group", _verdict(index, "GRP-003", name, g))
                            for g in _strings(data.get("nested_groups"))),
        missing_queues=tuple(Member(q, "queue mailbox not in the group", _verdict(index, "GRP-002", name, q))
                             for q in queues if q not in lowered) if data.get("exists") else (),
    )


@dataclass(frozen=True)
class Policy:
    app_id: str
    wildcard: bool
    access_right: str
    scope: str
    valid: bool | None
    verdict: FindingLink | None = None
    """For a RestrictAccess policy: SCOPE-002, which judges whether it targets the scope group and is valid."""
    judgement: str = ""
    """SCOPE-002's message when it did not pass, so a valid policy on the wrong group never reads as plain "yes"."""

    @property
    def problem(self) -> bool:
        return self.valid is False or (self.verdict is not None and self.verdict.status in (Status.FAIL,
                                                                                            Status.ERROR))


@dataclass(frozen=True)
class Assignment:
    name: str
    role: str
    scope: str
    organisation_wide: bool
    verdict: FindingLink | None = None
    """The SCOPE-006 finding on this assignment (resource `appId/name`)."""


@dataclass(frozen=True)
class AccessTest:
    mailbox: str
    role: str
    expected: str
    policy_result: str
    rbac_in_scope: tuple[str, ...] | None
    verdict: FindingLink | None

    @property
    def meaning(self) -> str:
        """"good" or "bad": Granted is what a queue mailbox should get and what a canary must not; Denied the
        reverse. Anything else (not tested, an error text) carries no colour."""
        result = self.policy_result.lower()
        if result not in ("granted", "denied"):
            return ""
        return "good" if (result == "granted") == (self.role == "queue") else "bad"


@dataclass(frozen=True)
class Attention:
    check_id: str
    status: Status
    severity: str
    resource: str
    message: str
    anchor: str


@dataclass(frozen=True)
class IntegrationView:
    anchor: str
    name: str
    app_id: str
    display_name: str
    access_model: str
    counts: tuple[tuple[Status, int], ...]
    attention: tuple[Attention, ...]
    attention_more: int
    permissions: Permissions | Unavailable
    credentials: Credentials
    scope_group: Group | Unavailable | None
    policies: tuple[Policy, ...] | Unavailable
    assignments: tuple[Assignment, ...] | Unavailable
    access_tests: tuple[AccessTest, ...]
    reach: str | Unavailable | None = None
    """"can reach: ..." (all N mailboxes, K through group G, through scope S); None in older inventories."""


def reach_text(data: Any) -> str | Unavailable | None:
    if gone := _unavailable(data):
        return gone
    return str(data["can_reach"]) if isinstance(data, Mapping) and data.get("can_reach") else None


def _policies(data: Any, judged: tuple[FindingLink, str] | None = None) -> tuple[Policy, ...] | Unavailable:
    """The policies naming the app; `judged` is its SCOPE-002 finding (link, message), shown on RestrictAccess."""
    if gone := _unavailable(data):
        return gone
    out = []
    for p in data if isinstance(data, list) else []:
        if isinstance(p, Mapping):
            valid = p.get("IsValid")
            right = str(p.get("AccessRight") or "")
            link, words = judged if judged and right == "RestrictAccess" else (None, "")
            out.append(Policy(str(p.get("AppId") or ""), p.get("AppId") == "*", right,
                              str(p.get("ScopeName") or ""), valid if isinstance(valid, bool) else None,
                              link, words if link and link.status is not Status.PASS else ""))
    return tuple(out)


def _scope_002(findings: Iterable[tuple[int, Finding]], app_id: str) -> tuple[FindingLink, str] | None:
    for i, f in findings:
        if f.check_id == "SCOPE-002" and f.resource == app_id:
            return FindingLink(f.check_id, f.status, f"f-{i}"), f.message
    return None


def _assignments(data: Any, name: str = "", app_id: str = "",
                 index: FindingIndex | None = None) -> tuple[Assignment, ...] | Unavailable:
    if gone := _unavailable(data):
        return gone
    out = []
    for a in data if isinstance(data, list) else []:
        if isinstance(a, Mapping):
            if a.get("CustomResourceScope"):
                scope = f"management scope {a['CustomResourceScope']}"
            elif a.get("RecipientGroupScope"):
                scope = f"members of {a['RecipientGroupScope']}"
            else:
                scope = "whole organisation" if a.get("organisation_wide") else "administrative unit"
            verdict = _verdict(index, "SCOPE-006", name, f"{app_id}/{a.get('Name')}") if index else None
            out.append(Assignment(str(a.get("Name") or ""), str(a.get("Role") or ""), scope,
                                  bool(a.get("organisation_wide")), verdict))
    return tuple(out)


def _access_tests(data: Any, name: str, index: FindingIndex) -> tuple[AccessTest, ...]:
    out = []
    for t in data if isinstance(data, list) else []:
        if not isinstance(t, Mapping):
            continue
        mailbox, role = str(t.get("mailbox") or ""), str(t.get("role") or "")
        rbac = t.get("rbac_in_scope")
        out.append(AccessTest(
            mailbox=mailbox, role=role, expected="reachable" if role == "queue" else "not reachable",
            policy_result=str(t.get("AccessCheckResult") or ""),
            rbac_in_scope=tuple(_strings(rbac)) if isinstance(rbac, list) else None,
            verdict=_verdict(index, "SCOPE-004" if role == "queue" else "SCOPE-005", name, mailbox)))
    return tuple(out)


def warning_window(findings: Iterable[Finding]) -> int | None:
    """The credential warning window the run used, as CRED-002 or TEN-003 recorded it in their evidence."""
    low, high = LIMITS["credential_warning_days"]  # a findings.json from elsewhere may hold any number
    for f in findings:
        days = f.evidence.get("warning_days") if f.check_id in ("CRED-002", "TEN-003") else None
        if isinstance(days, int) and not isinstance(days, bool) and low <= days <= high:
            return days
    return None


def _short_message(f: Finding) -> str:
    """A finding's message without the root cause it repeats (named by its check id instead)."""
    cause = f.evidence.get("root_cause")
    if f.status is Status.FAIL and isinstance(cause, str) and cause:
        return f"{without_root_cause(f.message)} (follows from {cause})"
    return f.message


def integration_views(data: Any, findings: tuple[Finding, ...], index: FindingIndex,
                      now: datetime | None) -> list[IntegrationView] | Unavailable:
    if gone := _unavailable(data):
        return gone
    window = warning_window(findings)
    by_integration: dict[str, list[tuple[int, Finding]]] = {}
    for i, f in enumerate(findings):
        by_integration.setdefault(f.integration, []).append((i, f))
    views = []
    for n, item in enumerate(data if isinstance(data, list) else []):
        if not isinstance(item, Mapping):
            continue
        name = str(item.get("name") or "")
        mine = by_integration.get(name, [])
        counts = Counter(f.status for _, f in mine)
        act = sorted((p for p in mine if p[1].status in (Status.ERROR, Status.FAIL, Status.WAIVED)),
                     key=lambda p: (p[1].status.rank, p[1].severity.rank, p[0]))
        app_id = str(item.get("app_id") or "")
        assignments = _assignments(item.get("rbac_assignments"), name, app_id, index)
        tests = item.get("access_tests")
        queues = [str(t.get("mailbox") or "").lower() for t in (tests if isinstance(tests, list) else [])
                  if isinstance(t, Mapping) and t.get("role") == "queue"]
        access_model = str(item.get("access_model") or "")
        views.append(IntegrationView(
            anchor=f"integration-{n + 1}", name=name, app_id=app_id,
            display_name=str(item.get("display_name") or ""), access_model=access_model,
            counts=tuple((s, counts[s]) for s in sorted(Status, key=lambda s: s.rank) if counts[s]),
            attention=tuple(Attention(f.check_id, f.status, f.severity.value, f.resource, _short_message(f), f"f-{i}")
                            for i, f in act[:ATTENTION_LIMIT]),
            attention_more=max(len(act) - ATTENTION_LIMIT, 0),
            permissions=permissions_view(item.get("permissions"), access_model,
                                         permission_findings(mine, app_id, index)),
            credentials=credentials_view(item.get("credentials"), item.get("service_principal_credentials"),
                                         now, window),
            scope_group=group_view(item.get("scope_group"), name, queues, index),
            policies=_policies(item.get("policies"), _scope_002(mine, app_id)), assignments=assignments,
            access_tests=_access_tests(tests, name, index), reach=reach_text(item.get("reach"))))
    return views


@dataclass(frozen=True)
class SweptApp:
    app_id: str
    display_name: str
    mailbox_permissions: tuple[str, ...]
    rbac_mailbox_roles: tuple[str, ...] | Unavailable
    takeover_permissions: tuple[str, ...]
    policies: tuple[str, ...] | Unavailable
    verdicts: tuple[FindingLink, ...]
    reach: str | Unavailable | None = None


SWEEP_CHECKS = ("TEN-001", "TEN-002", "TEN-003", "TEN-004")


def sweep_view(data: Any, index: FindingIndex) -> list[SweptApp] | Unavailable:
    if gone := _unavailable(data):
        return gone
    apps = []
    for a in data if isinstance(data, list) else []:
        if not isinstance(a, Mapping):
            continue
        app_id = str(a.get("app_id") or "")
        rbac, policies = a.get("rbac_mailbox_roles"), a.get("policies")
        apps.append(SweptApp(
            app_id=app_id, display_name=str(a.get("display_name") or ""),
            mailbox_permissions=tuple(_strings(a.get("mailbox_permissions"))),
            rbac_mailbox_roles=_unavailable(rbac) or tuple(_strings(rbac)),
            takeover_permissions=tuple(_strings(a.get("takeover_permissions"))),
            policies=_unavailable(policies) or tuple(_strings(policies)),
            verdicts=tuple(v for c in SWEEP_CHECKS if (v := _verdict(index, c, "", app_id))),
            reach=reach_text(a.get("reach"))))
    return apps
