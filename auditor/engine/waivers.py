"""Waivers (docs/baseline.md, `[[waiver]]`): risk accepted for one check and resource, with a reason, until a date.

A waiver turns a FAIL into WAIVED while it lasts (through its `expires` day, inclusive, judged at the
snapshot's collection date, never the clock). Once expired it stops applying and the finding says since when.
Each waiver also gets a state for the report: expiring within the renewal window (someone should renew it or
fix the problem), expired, and stale when it matches no finding that needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from fnmatch import fnmatchcase

from auditor.models.baseline import Waiver
from auditor.models.findings import RENEWAL_WINDOW_DAYS, Finding, Status, WaiverState

# A waiver is needed by a FAIL (it waives it, or would if not expired) and may be needed by an ERROR (the
# verdict is unknown this run). PASS and SKIP findings do not need it.
_NEEDS_A_WAIVER = (Status.FAIL, Status.WAIVED, Status.ERROR)


def matches(waiver: Waiver, finding: Finding) -> bool:
    """Same check, and the resource equal to the waiver's or matching it as a case-insensitive glob."""
    return waiver.check == finding.check_id and fnmatchcase(finding.resource.lower(), waiver.resource.lower())


def apply_waivers(findings: Iterable[Finding], waivers: tuple[Waiver, ...], today: date) -> list[Finding]:
    return [_apply(f, waivers, today) for f in findings]


def _apply(finding: Finding, waivers: tuple[Waiver, ...], today: date) -> Finding:
    if finding.status is not Status.FAIL:
        return finding
    matching = [w for w in waivers if matches(w, finding)]
    if not matching:
        return finding
    live = [w for w in matching if today <= w.expires]
    if live:
        w = max(live, key=lambda w: w.expires)
        return replace(finding, status=Status.WAIVED,
                       waiver={"reason": w.reason, "expires": w.expires.isoformat(), "expired": False})
    w = max(matching, key=lambda w: w.expires)
    return replace(finding, message=f"{finding.message} (waiver expired on {w.expires.isoformat()})",
                   waiver={"reason": w.reason, "expires": w.expires.isoformat(), "expired": True})


def waiver_states(waivers: tuple[Waiver, ...], findings: Iterable[Finding], today: date) -> tuple[WaiverState, ...]:
    """Every waiver in baseline order, with its state on `today` and how many findings need it."""
    needing = [f for f in findings if f.status in _NEEDS_A_WAIVER]
    states = []
    for w in waivers:
        days_left = (w.expires - today).days
        state = "expired" if days_left < 0 else "expiring" if days_left <= RENEWAL_WINDOW_DAYS else "active"
        states.append(WaiverState(check=w.check, resource=w.resource, reason=w.reason, expires=w.expires.isoformat(),
                                  state=state, days_left=days_left,
                                  matched=sum(1 for f in needing if matches(w, f))))
    return tuple(states)
