"""History in a run: compare with the previous run of the same tenant and baseline, then record this one.

The order matters for gating (`FinishingRun`). The run is stored as unfinished first; then, holding the
history's write lock, it is compared with the last run that finished, its reports are put in place, and it is
marked finished in that same transaction, as the run's last step. A run killed anywhere before that commit
stays unfinished: it is never the "previous run" of the next one, so its new failures are still new (and still
fail `--fail-on-new`) when the job runs again. Runs of one tenant started at once queue for the lock, so each
compares with the one that finished before it.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from types import TracebackType

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
    stored = store.runs(limit=TREND_RUNS - 1, tenant_id=doc.run.tenant_id, baseline_file=doc.run.baseline_file,
                        finished=True)
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


class FinishingRun:
    """`with FinishingRun(...) as run:` write the reports of `run.doc` (drift and trend added), then
    `run.complete()`; the run counts as finished only once the block has ended without an error.

    A history that cannot take the run (locked past the busy timeout, read-only, disk full) does not change the
    verdict: the run says it was not recorded (`not_recorded`) and its drift is still read, unlocked."""

    def __init__(self, store: HistoryStore, doc: FindingsDocument, snapshot: Snapshot,
                 keep_snapshot: bool = False) -> None:
        self.store, self.doc, self.snapshot, self.keep_snapshot = store, doc, snapshot, keep_snapshot
        self.run_id: int | None = None
        self.not_recorded = ""
        self._stack: ExitStack | None = None
        self._con: object = None
        self._completed = False

    def __enter__(self) -> FinishingRun:
        from auditor.pause import pause_at

        if not reached_the_tenant(self.snapshot):
            self.not_recorded = NOTHING_COLLECTED
        else:
            stack = ExitStack()
            try:
                self.run_id = self.store.begin(self.doc, self.snapshot.to_json() if self.keep_snapshot else None)
                pause_at("registered")
                self._con = stack.enter_context(self.store.finishing())
                self._stack = stack
            except AuditorError as exc:
                stack.close()
                self.run_id, self.not_recorded = None, str(exc)
        if self._stack is not None or self.not_recorded == NOTHING_COLLECTED:
            self.doc = with_history(self.doc, self.store)  # inside the lock
        else:
            self.doc = self._unlocked_history()
        return self

    def _unlocked_history(self) -> FindingsDocument:
        """The history refused the run: its drift read-only; unreadable too, no drift (then `--fail-on-new`
        gates on every FAIL, the safe side)."""
        try:
            return with_history(self.doc, HistoryStore(self.store.path, create=False))
        except AuditorError:
            return self.doc

    def complete(self) -> None:
        """The last step: mark the run finished (committed when the block ends)."""
        if self._stack is not None and self.run_id is not None:
            self.store.complete(self._con, self.run_id, self.doc)  # type: ignore[arg-type]
            self._completed = True

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._stack is None:
            return
        if kind is not None:  # the reports failed: roll back, the run stays unfinished, the error goes on
            self._stack.__exit__(kind, exc, tb)
            return
        try:
            self._stack.close()  # COMMIT
        except AuditorError as error:
            self.run_id, self.not_recorded = None, str(error)
            return
        if not self._completed:
            self.run_id, self.not_recorded = None, "the run did not finish"


def _ref(run: StoredRun) -> RunRef:
    return RunRef(collected_at=run.collected_at, tenant_id=run.tenant_id, baseline_file=run.baseline_file,
                  run_id=run.id)


def _point(run: StoredRun) -> TrendPoint:
    return TrendPoint(collected_at=run.collected_at, run_id=run.id, errors=run.count(Status.ERROR),
                      failures_by_severity={s.value: run.failures(s) for s in Severity})
