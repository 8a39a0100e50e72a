"""Drift between two runs (docs/scheduling.md, "Drift"), by finding identity (check id, integration, resource).

- new: FAIL or ERROR now, and not so before. A FAIL whose earlier verdict was ERROR is new too: the earlier
  run could not tell, so nobody has seen this failure yet; gating on it is the safe reading.
- resolved: FAIL or ERROR before, PASS now or gone.
- changed: any other change of status of a finding present in both (FAIL to WAIVED, FAIL to ERROR, PASS to SKIP).
- unchanged: the same status.
A finding that appears or disappears without failing (a newly sampled canary that passes) is not drift.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.models.findings import Drift, DriftEntry, Finding, RunRef, Status

FAILING = (Status.FAIL, Status.ERROR)
Identity = tuple[str, str, str]


def by_identity(findings: Iterable[Finding]) -> dict[Identity, Finding]:
    """One finding per identity; should a run hold two, the one to act on first (ERROR, then FAIL, ...) wins."""
    out: dict[Identity, Finding] = {}
    for f in findings:
        seen = out.get(f.identity)
        if seen is None or f.status.rank < seen.status.rank:
            out[f.identity] = f
    return out


def is_new(before: Status | None, after: Status | None) -> bool:
    if after is Status.FAIL:
        return before is not Status.FAIL
    return after is Status.ERROR and before not in FAILING


def compare(old: Iterable[Finding], new: Iterable[Finding], previous: RunRef | None) -> Drift:
    """`old` are the findings of `previous` (empty when there is none: every FAIL and ERROR is then new)."""
    before, after = by_identity(old), by_identity(new)
    appeared: list[DriftEntry] = []
    resolved: list[DriftEntry] = []
    changed: list[DriftEntry] = []
    unchanged = 0
    for identity in sorted(before.keys() | after.keys()):
        was, now = before.get(identity), after.get(identity)
        was_status, now_status = (was.status if was else None), (now.status if now else None)
        if was_status is now_status:
            unchanged += 1
            continue
        entry = _entry(was, now)
        if is_new(was_status, now_status):
            appeared.append(entry)
        elif was_status in FAILING and now_status in (Status.PASS, None):
            resolved.append(entry)
        elif was is not None and now is not None:
            changed.append(entry)
    return Drift(previous=previous, new=_ordered(appeared), resolved=_ordered(resolved), changed=_ordered(changed),
                 unchanged=unchanged)


def new_failures(drift: Drift) -> frozenset[Identity]:
    """The identities `--fail-on-new` gates on: FAILs that the previous run did not report as FAIL."""
    return frozenset(e.identity for e in drift.new if e.after is Status.FAIL)


def _entry(was: Finding | None, now: Finding | None) -> DriftEntry:
    latest = now or was
    assert latest is not None
    return DriftEntry(check_id=latest.check_id, integration=latest.integration, resource=latest.resource,
                      severity=latest.severity, title=latest.title, before=was.status if was else None,
                      after=now.status if now else None, message=latest.message)


def _ordered(entries: list[DriftEntry]) -> tuple[DriftEntry, ...]:
    """Most severe first, then by check, integration and resource: the same runs give the same order."""
    return tuple(sorted(entries, key=lambda e: (e.severity.rank, e.check_id, e.integration, e.resource)))
