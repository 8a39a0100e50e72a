"""The engine: runs the catalog over a snapshot and a baseline. Pure: no I/O, no clock ("now" is collected_at)."""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from auditor.checks import CATALOG
from auditor.checks.base import CheckSpec, NotApplicable, Result, SectionUnavailable
from auditor.checks.context import Context
from auditor.engine.root_cause import link_root_causes
from auditor.engine.waivers import apply_waivers, waiver_states
from auditor.errors import ConfigError
from auditor.models.baseline import Baseline, Integration
from auditor.models.findings import Finding, Severity, Status, WaiverState
from auditor.models.parsing import DataError
from auditor.models.snapshot import Snapshot


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...]
    inventory: dict[str, Any]
    waivers: tuple[WaiverState, ...] = ()

    def counts(self) -> dict[str, Any]:
        by_status = Counter(f.status.value for f in self.findings)
        failing = [f for f in self.findings if f.status is Status.FAIL]
        by_severity = Counter(f.severity.value for f in failing)
        return {
            "total": len(self.findings),
            "by_status": {s.value: by_status.get(s.value, 0) for s in Status},
            "failures_by_severity": {s.value: by_severity.get(s.value, 0) for s in Severity},
        }


def validate_against_catalog(baseline: Baseline, catalog: Iterable[CheckSpec] = CATALOG) -> None:
    """Waivers must name real checks: a typo would otherwise waive nothing, silently."""
    ids = {c.id for c in catalog}
    for i, waiver in enumerate(baseline.waivers):
        if waiver.check not in ids:
            raise ConfigError(f"{baseline.source}: waiver[{i}].check: {waiver.check!r} is not a check id "
                              f"(see `auditor checks`)")


def evaluate(snapshot: Snapshot, baseline: Baseline, catalog: tuple[CheckSpec, ...] = CATALOG) -> Evaluation:
    from auditor.engine.inventory import build_inventory

    validate_against_catalog(baseline)
    ctx = Context(snapshot, baseline)
    findings: list[Finding] = []
    for integration in baseline.integrations:
        for spec in (c for c in catalog if c.scope == "integration"):
            default = _default_resource(spec, integration)
            findings += _run(ctx, spec, integration.name, default, (ctx, integration))
    for spec in (c for c in catalog if c.scope == "tenant"):
        findings += _run(ctx, spec, "", ctx.tenant_id, (ctx,))
    findings = link_root_causes(findings)  # a reachable mailbox names the configuration failure behind it
    findings = apply_waivers(findings, baseline.waivers, ctx.now.date())
    # the inventory reads the same parsed sections and indexes the checks built (the snapshot does not change)
    return Evaluation(findings=tuple(findings), inventory=build_inventory(ctx),
                      waivers=waiver_states(baseline.waivers, findings, ctx.now.date()))


def _default_resource(spec: CheckSpec, integration: Integration) -> str:
    if spec.default_resource == "group" and integration.scope_group:
        return integration.scope_group.lower()
    return integration.app_id


def _run(ctx: Context, spec: CheckSpec, integration: str, default: str, args: tuple[Any, ...]) -> list[Finding]:
    ctx.touched.clear()
    try:
        results = list(spec.run(*args))
    except NotApplicable as exc:
        results = [Result(Status.SKIP, exc.resource, exc.reason)]
    except SectionUnavailable as exc:
        results = [Result(Status.SKIP if exc.skip else Status.ERROR, default, str(exc))]
    except DataError as exc:
        results = [Result(Status.ERROR, default, f"snapshot data: {exc}")]
    except Exception as exc:  # a bug in a check must cost one finding, never the run
        where = traceback.extract_tb(exc.__traceback__)[-1]
        results = [Result(Status.ERROR, default, f"internal error in {spec.id}: {type(exc).__name__}: {exc} "
                                                 f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})")]
    provenance = tuple(f"{name}: {source}" if source else name for name, source in sorted(ctx.touched.items()))
    from auditor.checks.fixes import fix_for

    baseline_integration = next((a for a in args if isinstance(a, Integration)), None)
    return [
        Finding(check_id=spec.id, title=spec.title, severity=spec.severity, status=r.status,
                integration=integration, resource=r.resource, message=r.message, evidence=r.evidence,
                provenance=provenance, remediation=spec.remediation, references=spec.references,
                fix=fix_for(spec.id, r.resource, r.evidence, baseline_integration, r.message)
                if r.status is Status.FAIL else "")
        for r in results
    ]


def exit_code(findings: Iterable[Finding], fail_on: Severity = Severity.LOW,
              only: Collection[tuple[str, str, str]] | None = None) -> int:
    """Exit codes (README.md): 3 incomplete (any ERROR) beats 1 non-compliant (a FAIL at or above fail_on).

    `only` (--fail-on-new): the identities of the FAILs new since the last run; other FAILs do not count."""
    findings = list(findings)
    if any(f.status is Status.ERROR for f in findings):
        return 3
    if any(f.status is Status.FAIL and f.severity.at_least(fail_on) and (only is None or f.identity in only)
           for f in findings):
        return 1
    return 0
