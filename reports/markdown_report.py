"""summary.md: a short Markdown summary for CI step summaries ($GITHUB_STEP_SUMMARY) and pull-request comments.

Verdict, counts, then the failing findings worst first, capped ("and N more": the full list is in the other
reports). Tenant values (names, resources, messages) are escaped so they show as text: every ASCII punctuation
character gets a backslash (CommonMark: a backslash-escaped punctuation character is literal), so a display name
cannot open a link, an image, emphasis, a table cell or raw HTML; line breaks become spaces, control characters
are shown as escapes.
"""

from __future__ import annotations

import string
from collections import Counter
from pathlib import Path

from auditor.models.findings import Finding, FindingsDocument, Severity, Status
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic
from auditor.reports.html_report import _threshold, display_time, verdict
from auditor.terminal import one_line

LISTED = 15
"""Failing findings listed; a step summary is read at a glance, the rest are counted."""
_PUNCTUATION = frozenset(string.punctuation)
ICONS = {"pass": "✅", "fail": "❌", "incomplete": "⚠️"}


def md(value: object) -> str:
    """`value` as literal Markdown text on one line."""
    text = one_line(value)
    return "".join("\\" + c if c in _PUNCTUATION else c for c in text)


def worst_first(findings: tuple[Finding, ...]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.status.rank, f.severity.rank, f.check_id, f.integration, f.resource))


def render(doc: FindingsDocument, listed: int = LISTED) -> str:
    findings = doc.findings
    by_status = Counter(f.status for f in findings)
    failing = Counter(f.severity for f in findings if f.status is Status.FAIL)
    result = verdict(by_status, failing, _threshold(doc.summary.get("fail_on")))
    tenant = doc.run.tenant_name or doc.run.tenant_domain or doc.run.tenant_id
    lines = [
        f"## {ICONS.get(result.key, '')} Mailbox access audit: {md(result.headline)}",
        "",
        f"{md(tenant)} \\({md(doc.run.tenant_domain)}\\), collected {md(display_time(doc.run.collected_at))}, "
        f"baseline {md(doc.run.baseline_file)}\\.",
        "",
        md(result.detail),
        "",
        "| Status | Count |",
        "| --- | ---: |",
        *(f"| {s.value} | {by_status[s]} |" for s in Status if by_status[s]),
        "",
    ]
    if any(failing.values()):
        lines += ["| Severity | Failing |", "| --- | ---: |",
                  *(f"| {s.value} | {failing[s]} |" for s in Severity if failing[s]), ""]
    act_on = [f for f in worst_first(findings) if f.status in (Status.FAIL, Status.ERROR)]
    if act_on:
        lines += ["### To act on, worst first", "", "| Status | Severity | Check | Integration | Resource | Finding |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {f.status.value} | {f.severity.value} | {md(f.check_id)} | {md(f.integration or 'tenant sweep')} "
                  f"| {md(f.resource)} | {md(f.message)} |" for f in act_on[:listed]]
        if len(act_on) > listed:
            lines += ["", f"and {len(act_on) - listed} more \\(see report\\.html or findings\\.csv\\)\\."]
        lines.append("")
    return "\n".join(lines)


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["markdown"]
    write_atomic(path, render(doc))
    return path
