"""Wiring: snapshot + baseline -> engine -> FindingsDocument -> report files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from auditor import __version__
from auditor.engine import Evaluation, evaluate, exit_code
from auditor.models.baseline import Baseline
from auditor.models.findings import FindingsDocument, RunInfo, Severity, Status
from auditor.models.snapshot import Snapshot
from auditor.models.timeutil import format_datetime


@dataclass(frozen=True)
class RunResult:
    document: FindingsDocument
    written: tuple[Path, ...]

    def exit_code(self, fail_on: Severity = Severity.LOW) -> int:
        return exit_code(self.document.findings, fail_on)

    def summary_line(self) -> str:
        counts = self.document.summary["by_status"]
        parts = ", ".join(f"{counts[s.value]} {s.value}" for s in Status if counts.get(s.value))
        return f"{len(self.document.findings)} findings ({parts or 'none'}); reports in {self.written[0].parent}" \
            if self.written else f"{len(self.document.findings)} findings ({parts or 'none'})"


def build_document(snapshot: Snapshot, baseline: Baseline, evaluation: Evaluation) -> FindingsDocument:
    run = RunInfo(
        tenant_id=snapshot.tenant_id, tenant_domain=snapshot.tenant_domain,
        tenant_name=snapshot.tenant_name or baseline.tenant.name,
        collected_at=format_datetime(snapshot.collected_at), tool_version=__version__,
        baseline_sha256=baseline.sha256, baseline_file=Path(baseline.source).name,
        title=baseline.report.title, organisation=baseline.report.organisation,
        collection=snapshot.collection,
    )
    return FindingsDocument(run=run, summary=evaluation.counts(), inventory=evaluation.inventory,
                            findings=evaluation.findings)


def write_reports(doc: FindingsDocument, out: Path, formats: Iterable[str]) -> list[Path]:
    from auditor.reports import csv_report, html_report, json_report, junit_report

    writers = {"json": json_report.write, "csv": csv_report.write, "html": html_report.write,
               "junit": junit_report.write}
    return [writers[f](doc, out) for f in formats if f in writers]


def evaluate_and_report(snapshot: Snapshot, baseline: Baseline, out: Path, formats: Iterable[str]) -> RunResult:
    doc = build_document(snapshot, baseline, evaluate(snapshot, baseline))
    return RunResult(document=doc, written=tuple(write_reports(doc, out, formats)))
