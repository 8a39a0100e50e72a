"""The findings that changed since the previous run, as lines for a scheduled run's stderr.

A scheduled run's log is read by someone deciding whether to act: "2 new" is not enough, they need which two.
The list is bounded (the first run after a big change can list hundreds); worst first, so the bound cuts the
least important ones. Tenant values are escaped onto one line each (auditor.terminal.one_line): a resource or
message cannot start a forged line of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.models.findings import DriftEntry, Severity
from auditor.terminal import one_line

LISTED = 20
"""At most this many new and this many resolved findings are listed; the rest are counted ("and N more")."""


def drift_lines(label: str, entries: Iterable[DriftEntry], bound: int = LISTED) -> list[str]:
    """`label` is NEW or RESOLVED; one line per entry: severity, check, integration, resource, message."""
    ordered = sorted(entries, key=lambda e: (_rank(e.severity), e.check_id, e.integration, e.resource))
    lines = [f"  {label:<8} {e.severity.value:<8} {e.check_id:<11} {one_line(e.integration or '(tenant)')}: "
             f"{one_line(e.resource)}: {one_line(e.message)}" for e in ordered[:bound]]
    if len(ordered) > bound:
        lines.append(f"  and {len(ordered) - bound} more {label.lower()} (findings.json, drift)")
    return lines


def _rank(severity: Severity) -> int:
    return severity.rank
