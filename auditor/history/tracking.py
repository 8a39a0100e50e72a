"""History in a run: compare with the previous run of the same tenant and baseline, then record this one.

The order matters for gating. The comparison is read before the reports are written and the run is recorded
only after they are: a run killed half-way is never the "previous run" of the next one, so its new failures
are still new (and still fail `--fail-on-new`) when the job runs again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from auditor.errors import AuditorError
from auditor.history.drift import compare
from auditor.history.store import HistoryStore, StoredRun, default_path
from auditor.models.baseline import Baseline
from auditor.models.findings import FindingsDocument, RunRef, Severity, Status, TrendPoint
from auditor.models.snapshot import SectionStatus, Snapshot

TREND_RUNS = 30
"""Runs shown in the trend chart, this one included."""


def history_path(option: Path | None, baseline: Baseline | None) -> Path:
    """--history PATH, else the baseline's [history] path (relative to the baseline file), else the default."""
    if option is not None:
        return option.expanduser()
    if baseline is not None and baseline.history.path:
        configured = Path(baseline.history.path).expanduser()
        return configured if configured.is_absolute() else Path(baseline.source).parent / configured
    return default_path()


def with_history(doc: FindingsDocument, store: HistoryStore) -> FindingsDocument:
    """The document with its drift since the previous run and the trend over the stored runs."""
    previous = store.previous(doc.run.tenant_id, doc.run.baseline_file)
    old = store.findings(previous.id) if previous else ()
    drift = compare(old, doc.findings, _ref(previous) if previous else None)
    stored = store.runs(limit=TREND_RUNS - 1, tenant_id=doc.run.tenant_id, baseline_file=doc.run.baseline_file)
    points = [_point(r) for r in reversed(stored)]
    current = TrendPoint(collected_at=doc.run.collected_at, errors=int(doc.summary["by_status"].get("ERROR", 0)),
                         failures_by_severity=dict(doc.summary["failures_by_severity"]))
    return replace(doc, drift=drift, trend=(*points, current))


def reached_the_tenant(snapshot: Snapshot) -> bool:
    """False when nothing was collected (sign-in failed): such a run is not recorded, or the next run would
    compare with a run that saw nothing and report every known failure as new."""
    return any(s.status is SectionStatus.OK for s in snapshot.sections.values())


def record(store: HistoryStore, doc: FindingsDocument, snapshot: Snapshot | None = None) -> int:
    return store.record(doc, snapshot.to_json() if snapshot is not None else None)


NOTHING_COLLECTED = "nothing was collected"


def record_run(store: HistoryStore, doc: FindingsDocument, snapshot: Snapshot,
               keep_snapshot: bool = False) -> tuple[int | None, str]:
    """Record a finished run: (its run id, "") or (None, why it was not recorded).

    The verdict is final and its reports are written by now, so a history that cannot take the run (locked past
    the busy timeout, read-only, disk full) does not change the exit code: the run says it was not recorded,
    and since it never becomes the previous run, its new failures stay new for the next one (README, exit codes)."""
    if not reached_the_tenant(snapshot):
        return None, NOTHING_COLLECTED
    try:
        return record(store, doc, snapshot if keep_snapshot else None), ""
    except AuditorError as exc:
        return None, str(exc)


def _ref(run: StoredRun) -> RunRef:
    return RunRef(collected_at=run.collected_at, tenant_id=run.tenant_id, baseline_file=run.baseline_file,
                  run_id=run.id)


def _point(run: StoredRun) -> TrendPoint:
    return TrendPoint(collected_at=run.collected_at, run_id=run.id, errors=run.count(Status.ERROR),
                      failures_by_severity={s.value: run.failures(s) for s in Severity})
