"""report.html: one self-contained page (inline CSS, SVG and a little vanilla JS) rendered from findings.json.

Jinja2 autoescapes everything and StrictUndefined turns a template typo into an error, not a blank. Tenant
data is never marked safe; the only markup passed through unescaped is our own stylesheet and script, which a
Content-Security-Policy pins by hash, so an injected <script> or on* handler would not run even if escaping
ever failed. The page reads the same without JavaScript; the script only hides rows for the filters.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from auditor.models import json_text
from auditor.models.findings import Finding, FindingsDocument, Severity, Status
from auditor.models.timeutil import parse_datetime
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic
from auditor.reports.html_headline import Cause, app_names, cause_of, error_causes, headline
from auditor.reports.html_history import drift_view, trend_view, waiver_view
from auditor.reports.html_inventory import Unavailable, integration_views, sweep_view

STATUSES = sorted(Status, key=lambda s: s.rank)  # ERROR, FAIL, WAIVED, SKIP, PASS: what to act on first
SEVERITIES = list(Severity)
NOT_RECORDED = {"unavailable": "not recorded in this findings.json"}
LARGE_REPORT = 1000
"""Above this many findings the page lets the browser skip laying out check groups until they scroll into view."""


@dataclass(frozen=True)
class Asset:
    """Our own stylesheet or script, inlined verbatim and allowed by the CSP through its hash."""

    text: Markup
    csp_hash: str


@functools.cache
def _asset(name: str) -> Asset:
    text = resources.files("auditor.reports").joinpath("templates", name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Asset(Markup(text), f"'sha256-{digest}'")  # Markup: our packaged file, never tenant data


@functools.cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("auditor.reports", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.tests["unavailable"] = lambda value: isinstance(value, Unavailable)
    env.filters["when"] = time_tag
    return env


@dataclass(frozen=True)
class Reference:
    url: str
    is_link: bool
    """Only https references become links; anything else shows as text."""


def references(urls: tuple[str, ...]) -> tuple[Reference, ...]:
    return tuple(Reference(u, u.startswith("https://")) for u in urls)


class Row(NamedTuple):
    """One finding in the findings table, as the row shows it: computed once here, so the template's loop over
    tens of thousands of rows only lays out strings (a NamedTuple: the cheapest record to build and to read)."""

    anchor: str
    status: str
    status_class: str
    severity: str
    integration: str
    resource: str
    message: str
    waiver: dict[str, str | bool] | None
    fix: str
    evidence_json: str
    evidence_class: str
    """"evidence", or "evidence pass-evidence" for a PASS or SKIP (printing leaves those closed)."""
    provenance: tuple[str, ...]
    """Shown on the row only when it differs from its check group's (as the remediation and references)."""
    remediation: str
    """Shown on the row only when it differs from its check group's remediation."""
    references: tuple[Reference, ...]
    resource_name: str = ""
    """The name of the app a GUID resource is, when the inventory knows it."""
    cause: Cause | None = None
    """For an ERROR sharing its cause with other findings: that cause, named once in the verdict banner."""


def row(anchor: str, f: Finding, first: Finding, resource_name: str, cause: Cause | None) -> Row:
    return Row(
        anchor=anchor, status=f.status.value, status_class=f.status.value.lower(), severity=f.severity.value,
        integration=f.integration, resource=f.resource, message=f.message, waiver=f.waiver or None, fix=f.fix,
        evidence_json=pretty_json(f.evidence),
        evidence_class="evidence pass-evidence" if f.status in (Status.PASS, Status.SKIP) else "evidence",
        provenance=() if f.provenance == first.provenance else f.provenance,
        remediation="" if f.remediation == first.remediation else f.remediation,
        references=() if f.references == first.references else references(f.references),
        resource_name=resource_name, cause=cause)


@dataclass(frozen=True)
class CheckGroup:
    check_id: str
    title: str
    severity: Severity
    counts: tuple[tuple[Status, int], ...]
    open: bool
    """Groups with something to act on (FAIL or ERROR) start expanded; the rest stay collapsed."""
    remediation: str
    references: tuple[Reference, ...]
    rows: tuple[Row, ...]
    catalog: int = 0
    """Position in catalog (first-seen) order, for the sort control."""
    provenance: tuple[str, ...] = ()
    """The snapshot sections the evidence was read from, once for the check: a check reads the same sections
    for every resource, so a 35,000-row page would otherwise repeat them on every row."""

    @property
    def worst(self) -> Status:
        return min((s for s, _ in self.counts), key=lambda s: s.rank)


@dataclass(frozen=True)
class Verdict:
    key: str
    headline: str
    detail: str


def pretty_json(value: Any) -> str:
    return json_text.dumps(value, default=str)


def anchor_of(index: int) -> str:
    return f"f-{index}"


def check_groups(findings: tuple[Finding, ...], names: dict[str, str] | None = None,
                 causes: tuple[Cause, ...] = ()) -> list[CheckGroup]:
    """Findings grouped by check, worst first: by the group's worst status (ERROR, FAIL, WAIVED, SKIP, PASS),
    then severity, then catalog (first-seen) order; inside a group, what to act on first."""
    names = names or {}
    grouped: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        grouped.setdefault(f.check_id, []).append(i)
    groups: list[CheckGroup] = []
    for check_id, indexes in grouped.items():
        indexes.sort(key=lambda i: findings[i].status.rank)  # stable: engine order within a status
        first = findings[indexes[0]]
        by_status = Counter(findings[i].status for i in indexes)
        rows = tuple(row(anchor_of(i), findings[i], first, names.get(findings[i].resource.lower(), ""),
                         cause_of(causes, findings[i].message) if findings[i].status is Status.ERROR else None)
                     for i in indexes)
        groups.append(CheckGroup(
            check_id=check_id, title=first.title, severity=min((findings[i].severity for i in indexes),
                                                                  key=lambda s: s.rank),
            counts=tuple((s, by_status[s]) for s in STATUSES if by_status[s]),
            open=bool(by_status[Status.FAIL] or by_status[Status.ERROR]),
            remediation=first.remediation, references=references(first.references), rows=rows,
            catalog=len(groups), provenance=first.provenance,
        ))
    return sorted(groups, key=lambda g: (g.worst.rank, g.severity.rank, g.catalog))


def _threshold(value: object) -> Severity:
    """The run's --fail-on, as recorded in findings.json (older documents: low, the default)."""
    try:
        return Severity(str(value))
    except ValueError:
        return Severity.LOW


def verdict(by_status: Counter[Status], failing_by_severity: Counter[Severity],
            fail_on: Severity = Severity.LOW) -> Verdict:
    """As the exit code: any ERROR makes the audit incomplete (it may hide worse); otherwise compliant means no
    FAIL at or above the run's --fail-on threshold (failures below it are listed, not hidden)."""
    below = sum(n for s, n in failing_by_severity.items() if not s.at_least(fail_on))
    fails, errors, waived = by_status[Status.FAIL] - below, by_status[Status.ERROR], by_status[Status.WAIVED]
    failing_by_severity = Counter({s: n for s, n in failing_by_severity.items() if s.at_least(fail_on)})
    below_text = (f" {below} failing finding{'s' if below != 1 else ''} below the --fail-on {fail_on.value} "
                  "threshold." if below else "")
    parts = [f"{failing_by_severity[s]} {s.value}" for s in SEVERITIES if failing_by_severity[s]]
    fail_text = f"{fails} failing finding{'s' if fails != 1 else ''} ({', '.join(parts)})" if fails else ""
    waived_text = f"{waived} waived." if waived else ""
    if errors:
        detail = (f"{errors} finding{'s' if errors != 1 else ''} could not be evaluated (ERROR), so the verdict "
                  f"may hide worse. " + (f"Also {fail_text}. " if fails else "") + waived_text)
        return Verdict("incomplete", "Incomplete", (detail + below_text).strip())
    if fails:
        return Verdict("fail", "Not compliant", f"{fail_text}. {waived_text}{below_text}".strip())
    detail = (f"No failing finding{' at or above ' + fail_on.value if below else ''}: {by_status[Status.PASS]} "
              f"passed, {by_status[Status.SKIP]} skipped. {waived_text}{below_text}")
    return Verdict("pass", "Compliant", detail.strip())


# Run facts worth a reader's eye in the header; request counts and timings stay in findings.json.
HEADER_FACTS = (("source", "Source"), ("exchange_transport", "Exchange transport"), ("graph_endpoint", "Graph"),
                ("observed_profile", "Observed profile"),
                ("stopped", "Run stopped early"))  # the deadline or a signal cut collection short


def collection_facts(collection: dict[str, Any]) -> list[tuple[str, str]]:
    """The snapshot's collection block (transport, source, ...) as label/value pairs."""
    facts = []
    for key, label in HEADER_FACTS:
        if key in collection:
            value = collection[key]
            facts.append((label, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))
    return facts


def display_time(value: str) -> str:
    """"2026-06-01T12:00:00Z" as "1 Jun 2026, 12:00 UTC"; anything unparseable as it came."""
    moment = collected_at(value)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC" if moment else value


def numeric_time(value: str) -> str:
    """"2026-06-01 12:00 UTC": the trend chart's axis labels cut the month and day out of it."""
    moment = collected_at(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else value


def time_tag(value: Any) -> Markup:
    """A <time> showing the human date, its ISO value as datetime and on hover; unparseable values as text."""
    text = str(value or "")
    moment = collected_at(text) if text else None
    if moment is None:
        return Markup("{}").format(text)
    iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, iso, display_time(text))


def collected_at(value: str) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def context(doc: FindingsDocument) -> dict[str, Any]:
    """Everything the template shows, computed here so the template only lays it out."""
    findings = doc.findings
    by_status = Counter(f.status for f in findings)
    failing = Counter(f.severity for f in findings if f.status is Status.FAIL)
    integration_names = [str(i.get("name", "")) for i in doc.inventory.get("integrations") or []
                         if isinstance(i, dict)]
    for f in findings:
        if f.integration and f.integration not in integration_names:
            integration_names.append(f.integration)
    finding_index = {f.identity: (f.status, anchor_of(i)) for i, f in enumerate(findings)}
    causes = error_causes(findings)
    names = app_names(doc.inventory)
    return {
        "run": doc.run,
        "title": doc.run.title or "Mailbox access audit",
        "collected": display_time(doc.run.collected_at),
        "collection": collection_facts(doc.run.collection),
        "tls_unverified": doc.run.collection.get("tls_verify") is False,
        "total": len(findings),
        "large": len(findings) > LARGE_REPORT,
        "verdict": verdict(by_status, failing, _threshold(doc.summary.get("fail_on"))),
        "statuses": STATUSES,
        "severities": SEVERITIES,
        "by_status": by_status,
        "integrations": integration_views(doc.inventory.get("integrations", NOT_RECORDED), findings, finding_index,
                                          collected_at(doc.run.collected_at)),
        "sweep": sweep_view(doc.inventory.get("sweep", NOT_RECORDED), finding_index),
        "groups": check_groups(findings, names, causes),
        "headline": headline(findings, doc.inventory),
        "causes": causes,
        "cause_for": lambda message: cause_of(causes, message),
        "app_names": names,
        "drift": drift_view(doc.drift, {k: v[1] for k, v in finding_index.items()}, display_time),
        "trend": trend_view(doc.trend, doc.drift is not None, numeric_time),
        "waivers": waiver_view(doc.waivers),
        "display_time": display_time,
        "integration_names": integration_names,
        "has_tenant_findings": any(not f.integration for f in findings),
        "css": _asset("report.css"),
        "js": _asset("report.js"),
    }


def render(doc: FindingsDocument) -> str:
    return _environment().get_template("report.html.j2").render(context(doc))


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["html"]
    write_atomic(path, render(doc))
    return path
