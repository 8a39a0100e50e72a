"""Small findings and documents for the history tests, and the sample evaluated once."""

from __future__ import annotations

import dataclasses
import functools

from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from auditor.models.findings import Finding, FindingsDocument, Severity, Status
from auditor.models.snapshot import Snapshot, load_snapshot
from auditor.pipeline import build_document
from samples import SAMPLES_DIR

SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
BASELINE = SAMPLES_DIR / "baselines" / "sample.toml"


def finding(check_id: str, resource: str, status: Status, severity: Severity = Severity.HIGH,
            integration: str = "Contact Center", message: str = "") -> Finding:
    return Finding(check_id=check_id, title=f"title of {check_id}", severity=severity, status=status,
                   integration=integration, resource=resource, message=message or f"{check_id} {status.value}")


@functools.cache
def sample() -> tuple[Snapshot, FindingsDocument]:
    snapshot = load_snapshot(SNAPSHOT)
    baseline = load_baseline(BASELINE)
    return snapshot, build_document(snapshot, baseline, evaluate(snapshot, baseline))


def document(*findings: Finding, tenant_id: str = "tenant-a", baseline_file: str = "b.toml",
             collected_at: str = "2026-06-01T12:00:00Z") -> FindingsDocument:
    """The sample document's shape with other findings, tenant and time."""
    doc = sample()[1]
    by_status = {s.value: sum(1 for f in findings if f.status is s) for s in Status}
    failures = {s.value: sum(1 for f in findings if f.status is Status.FAIL and f.severity is s) for s in Severity}
    run = dataclasses.replace(doc.run, tenant_id=tenant_id, baseline_file=baseline_file, collected_at=collected_at)
    return dataclasses.replace(doc, run=run, findings=tuple(findings), waivers=(),
                               summary={"total": len(findings), "by_status": by_status,
                                        "failures_by_severity": failures})
