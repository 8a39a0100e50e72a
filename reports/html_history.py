"""The HTML report's "since the last run" section, trend chart and waiver lists, from findings.json.

All three come from the document alone (drift, history.trend, waivers), so `auditor report findings.json`
redraws them; a document written with history off has no drift and the page simply leaves the section out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from auditor.models.findings import Drift, DriftEntry, Severity, Status, TrendPoint, WaiverState
from auditor.reports import charts

TREND_WIDTH = 640.0
TREND_HEIGHT = 150.0
"""The trend chart's plot area in SVG units; the template adds room for the axis labels."""


@dataclass(frozen=True)
class DriftRow:
    entry: DriftEntry
    anchor: str
    """The finding's row in this report ("" for a finding that is gone)."""


@dataclass(frozen=True)
class DriftGroup:
    key: str
    heading: str
    explanation: str
    rows: tuple[DriftRow, ...]


@dataclass(frozen=True)
class DriftView:
    previous_label: str
    """"run 12, collected 2026-06-01 12:00 UTC", or "" on the first recorded run."""
    counts: tuple[tuple[str, int], ...]
    groups: tuple[DriftGroup, ...]


@dataclass(frozen=True)
class TrendView:
    columns: tuple[charts.Column, ...]
    tallest: int
    width: float
    height: float
    points: tuple[TrendPoint, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class WaiverView:
    expiring: tuple[WaiverState, ...]
    expired: tuple[WaiverState, ...]
    stale: tuple[WaiverState, ...]
    all: tuple[WaiverState, ...]


_GROUPS = (
    ("new", "New since the last run", "Failing (or not evaluable) now, and not so in the last run."),
    ("resolved", "Resolved", "Failing (or not evaluable) in the last run, passing or gone now."),
    ("changed", "Changed status", "Any other change of verdict, such as a FAIL now waived or now an ERROR."),
)


def drift_view(drift: Drift | None, anchors: Mapping[tuple[str, str, str], str],
               display_time: Callable[[str], str]) -> DriftView | None:
    if drift is None:
        return None
    counts = (("new", len(drift.new)), ("resolved", len(drift.resolved)), ("changed", len(drift.changed)),
              ("unchanged", drift.unchanged))
    if drift.previous is None:
        return DriftView(previous_label="", counts=counts, groups=())
    prev = drift.previous
    name = f"run {prev.run_id}" if prev.run_id is not None else (prev.source or "the earlier run")
    groups = tuple(
        DriftGroup(key, heading, explanation,
                   tuple(DriftRow(e, anchors.get(e.identity, "") if e.after is not None else "") for e in entries))
        for (key, heading, explanation), entries in zip(_GROUPS, (drift.new, drift.resolved, drift.changed),
                                                        strict=True))
    return DriftView(previous_label=f"{name}, collected {display_time(prev.collected_at)}", counts=counts,
                     groups=groups)


def trend_view(points: tuple[TrendPoint, ...], has_history: bool,
               display_time: Callable[[str], str]) -> TrendView | None:
    """Failures by severity per stored run, oldest first; critical at the bottom of each column."""
    if not has_history or not points:
        return None
    data = [(p.collected_at, [(s.value, int(p.failures_by_severity.get(s.value, 0))) for s in Severity])
             for p in points]
    columns, tallest = charts.stacked_columns(data, TREND_WIDTH, TREND_HEIGHT)
    labels = tuple("this run" if p.run_id is None else display_time(p.collected_at)[5:10] for p in points)
    return TrendView(columns=tuple(columns), tallest=tallest, width=TREND_WIDTH, height=TREND_HEIGHT,
                     points=points, labels=labels)


def waiver_view(waivers: tuple[WaiverState, ...]) -> WaiverView | None:
    if not waivers:
        return None
    return WaiverView(expiring=tuple(w for w in waivers if w.state == "expiring"),
                      expired=tuple(w for w in waivers if w.state == "expired"),
                      stale=tuple(w for w in waivers if w.stale), all=waivers)


def status_or_absent(status: Status | None) -> str:
    return status.value if status is not None else "absent"
