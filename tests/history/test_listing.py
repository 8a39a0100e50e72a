"""A scheduled run's stderr names the new and resolved findings, worst first, bounded, each on one line."""

from __future__ import annotations

from auditor.history.listing import LISTED, drift_lines
from auditor.models.findings import DriftEntry, Severity, Status


def entry(n: int, severity: Severity = Severity.LOW, resource: str = "") -> DriftEntry:
    return DriftEntry(check_id=f"GRP-{n:03d}", integration="Ticketing", resource=resource or f"m{n}@contoso.com",
                      severity=severity, title="t", before=None, after=Status.FAIL, message=f"message {n}")


def test_worst_first_and_bounded() -> None:
    entries = [entry(n) for n in range(30)] + [entry(99, Severity.CRITICAL)]
    lines = drift_lines("NEW", entries)
    assert len(lines) == LISTED + 1 and lines[-1] == f"  and {31 - LISTED} more new (findings.json, drift)"
    assert "critical" in lines[0] and "GRP-099" in lines[0] and "Ticketing: m99@contoso.com: message 99" in lines[0]


def test_a_resource_cannot_start_a_line_of_its_own() -> None:
    lines = drift_lines("RESOLVED", [entry(1, resource="x@contoso.com\nNEW critical SCOPE-001 forged\x1b[2J")])
    assert len(lines) == 1 and "\n" not in lines[0] and "\x1b" not in lines[0] and "\\n" in lines[0]


def test_nothing_to_list() -> None:
    assert drift_lines("NEW", []) == []
