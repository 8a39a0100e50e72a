"""Wiring: snapshot + baseline -> engine -> FindingsDocument -> report files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditor import __version__
from auditor.engine import Evaluation, evaluate, exit_code
from auditor.models.baseline import Baseline
from auditor.models.findings import FindingsDocument, RunInfo, Severity, Status
from auditor.models.snapshot import Snapshot
from auditor.models.timeutil import format_datetime

if TYPE_CHECKING:
    from auditor.history.store import HistoryStore


@dataclass(frozen=True)
class RunResult:
    document: FindingsDocument
    written: tuple[Path, ...]
    run_id: int | None = None
    """The history run this was recorded as (None: history off, or not recorded)."""
    not_recorded: str = ""
    """Why history is on but the run was not recorded (nothing collected, or the database refused it)."""

    def exit_code(self, fail_on: Severity = Severity.LOW, only_new: bool = False) -> int:
        """`only_new` (--fail-on-new): only FAILs new since the previous run make it 1; ERROR still makes it 3."""
        from auditor.history.drift import new_failures

        drift = self.document.drift
        return exit_code(self.document.findings, fail_on, new_failures(drift) if only_new and drift else None)

    def notes(self) -> list[str]:
        """Lines for stderr: what changed since the last run, and waivers someone must look at."""
        from auditor.history.tracking import NOTHING_COLLECTED

        lines = []
        drift = self.document.drift
        if self.not_recorded == NOTHING_COLLECTED:
            drift = None  # say only what happened: no drift claims about a run that saw nothing
        if drift is not None and drift.previous is None:
            first = "first recorded run" if self.run_id is not None else "no earlier recorded run"
            lines.append(f"history: {first} of this tenant and baseline; its {len(drift.new)} failing "
                         f"findings count as new")
        elif drift is not None and drift.previous is not None:
            from auditor.history.listing import drift_lines

            lines += drift_lines("NEW", drift.new) + drift_lines("RESOLVED", drift.resolved)
            lines.append(f"since run {drift.previous.run_id} ({drift.previous.collected_at}): {len(drift.new)} new, "
                         f"{len(drift.resolved)} resolved, {len(drift.changed)} changed")
        if self.not_recorded:
            lines.append(f"history: warning: this run was not recorded ({self.not_recorded})")
        for w in self.document.waivers:
            what = f"waiver {w.check} {w.resource}"
            if w.state == "expiring":
                lines.append(f"{what} expires on {w.expires} (in {w.days_left} days): renew it or fix the finding")
            elif w.state == "expired":
                lines.append(f"{what} expired on {w.expires}")
            if w.stale:
                lines.append(f"{what} is stale: it matches no failing finding (remove it)")
        return lines

    def summary_line(self) -> str:
        counts = self.document.summary["by_status"]
        parts = ", ".join(f"{counts[s.value]} {s.value}" for s in Status if counts.get(s.value))
        return f"{len(self.document.findings)} findings ({parts or 'none'}); reports in {self.written[0].parent}" \
            if self.written else f"{len(self.document.findings)} findings ({parts or 'none'})"


def build_document(snapshot: Snapshot, baseline: Baseline, evaluation: Evaluation,
                   fail_on: Severity = Severity.LOW) -> FindingsDocument:
    run = RunInfo(
        tenant_id=snapshot.tenant_id, tenant_domain=snapshot.tenant_domain,
        tenant_name=snapshot.tenant_name or baseline.tenant.name,
        collected_at=format_datetime(snapshot.collected_at), tool_version=__version__,
        baseline_sha256=baseline.sha256, baseline_file=Path(baseline.source).name,
        title=baseline.report.title, organisation=baseline.report.organisation,
        collection=snapshot.collection,
    )
    # The report's verdict uses the same threshold as the exit code.
    summary = {**evaluation.counts(), "fail_on": fail_on.value}
    return FindingsDocument(run=run, summary=summary, inventory=evaluation.inventory,
                            findings=evaluation.findings, waivers=evaluation.waivers)


def write_reports(doc: FindingsDocument, out: Path, formats: Iterable[str]) -> list[Path]:
    from auditor.reports import csv_report, html_report, json_report, junit_report
    from auditor.reports.formats import EXTRA_WRITERS
    from auditor.reports.gc_pause import collector_paused

    writers = {"json": json_report.write, "csv": csv_report.write, "html": html_report.write,
               "junit": junit_report.write, **EXTRA_WRITERS}
    with collector_paused():  # its sweeps over the findings cost a large report a quarter of its time
        return [writers[f](doc, out) for f in formats if f in writers]


def publish_reports(doc: FindingsDocument, out: Path, formats: Iterable[str],
                    snapshot: Snapshot | None = None) -> tuple[Path, ...]:
    """The run's files (its snapshot when given, and the reports) into `out` as one set (reports/output_set.py):
    `out` then holds this run's files or the previous set, never a mix."""
    from auditor.reports.output_set import OutputSet

    with OutputSet(out, run_key(doc)) as staged:
        if snapshot is not None:
            from auditor.reports.files import write_atomic

            write_atomic(staged.path / "snapshot.json", snapshot.to_json())
        names = [p.name for p in write_reports(doc, staged.path, formats)]
        staged.publish()
    return tuple(out / name for name in names)


def run_key(doc: FindingsDocument) -> str:
    """Which run a set of files belongs to: files of the same run may stay beside a re-rendered set."""
    return f"{doc.run.tenant_id}|{doc.run.collected_at}"


def evaluate_and_report(snapshot: Snapshot, baseline: Baseline, out: Path, formats: Iterable[str],
                        history: HistoryStore | None = None, keep_snapshot: bool = False,
                        fail_on: Severity = Severity.LOW, with_snapshot: bool = False) -> RunResult:
    """With `history`: drift and trend go into the document, and the run counts as finished only once its
    reports are in place (auditor/history/tracking.py says why in that order). `with_snapshot`: snapshot.json
    is part of the set written to `out`."""
    from auditor.models.baseline_permissions import check_snapshot_permissions
    from auditor.pause import pause_at

    check_snapshot_permissions(snapshot, baseline)  # a misspelt permission is exit 2, not three misleading FAILs

    doc = build_document(snapshot, baseline, evaluate(snapshot, baseline), fail_on)
    pause_at("evaluated")
    kept = snapshot if with_snapshot else None
    if history is None:
        return RunResult(document=doc, written=publish_reports(doc, out, formats, kept))
    from auditor.history.tracking import FinishingRun

    with FinishingRun(history, doc, snapshot, keep_snapshot) as run:
        pause_at("compared")
        written = publish_reports(run.doc, out, formats, kept)
        pause_at("reported")
        run.complete()
        pause_at("completed")
    pause_at("committed")
    return RunResult(document=run.doc, written=written, run_id=run.run_id, not_recorded=run.not_recorded)
