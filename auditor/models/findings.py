"""Findings: the verdicts the engine produces and the reports render."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.models.timeutil import parse_run_time
from auditor.models.wellformed import lone_surrogate_at


class Status(StrEnum):
    """Outcome of one check for one resource."""

    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"  # could not evaluate: data missing or collection failed
    SKIP = "SKIP"  # not applicable or not configured
    WAIVED = "WAIVED"  # a FAIL covered by an unexpired waiver

    @property
    def rank(self) -> int:
        """Sort order: the statuses a reader must act on first."""
        return _STATUS_RANK[self]


_STATUS_RANK = {Status.ERROR: 0, Status.FAIL: 1, Status.WAIVED: 2, Status.SKIP: 3, Status.PASS: 4}


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical, 4 for info."""
        return _SEVERITY_ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        """True when this severity is `other` or more severe."""
        return self.rank <= other.rank


_SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


@dataclass(frozen=True)
class Finding:
    """One verdict: check `check_id` judged `resource` of `integration` (empty for the tenant sweep)."""

    check_id: str
    title: str
    severity: Severity
    status: Status
    integration: str
    resource: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    provenance: tuple[str, ...] = ()
    """The snapshot sections (and their sources) the check read."""
    remediation: str = ""
    references: tuple[str, ...] = ()
    waiver: dict[str, str | bool] | None = None
    """For WAIVED findings, and FAILs whose waiver expired: reason, expires, and whether it expired."""
    fix: str = ""
    """For a FAIL: the remediation with this tenant's values filled in, as PowerShell lines and `#` comments
    (checks/fixes.py); empty when the check has no concrete fix."""

    @property
    def identity(self) -> tuple[str, str, str]:
        """What drift and waivers match on (docs/architecture.md, "Findings")."""
        return (self.check_id, self.integration, self.resource)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "status": self.status.value,
            "severity": self.severity.value,
            "integration": self.integration,
            "resource": self.resource,
            "message": self.message,
            "title": self.title,
            "remediation": self.remediation,
            "evidence": self.evidence,
            "references": list(self.references),
            "provenance": list(self.provenance),
            "waiver": self.waiver,
            "fix": self.fix,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Inverse of to_dict; raises KeyError/TypeError/ValueError on a malformed entry (callers map it to
        InputError). Types are checked here, so a hand-edited file fails with a message, not in a renderer."""
        if not isinstance(data, dict):
            raise TypeError(f"a finding must be an object, not {type(data).__name__}")
        text = {key: _text(data, key) for key in ("check_id", "title", "integration", "resource", "message")}
        where = f"finding {text['check_id']}"
        evidence = data.get("evidence") or {}
        if not isinstance(evidence, dict):
            raise TypeError(f"{where}: evidence must be an object")
        waiver = data.get("waiver")
        if waiver is not None and not (isinstance(waiver, dict) and all(
                isinstance(waiver.get(k, ""), str) for k in ("reason", "expires"))
                and isinstance(waiver.get("expired", False), bool)):
            raise TypeError(f"{where}: waiver must be null or an object with reason, expires and expired")
        return cls(
            **text,
            severity=Severity(data["severity"]),
            status=Status(data["status"]),
            evidence=evidence,
            provenance=_texts(data, "provenance", where),
            remediation=_text(data, "remediation", ""),
            references=_texts(data, "references", where),
            waiver=waiver,
            fix=_text(data, "fix", ""),
        )


def _text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default) if default is not None else data[key]
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string, not {type(value).__name__}")
    return value


def _texts(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{where}: {key} must be a list of strings")
    return tuple(value)


FINDINGS_SCHEMA_VERSION = 1

RENEWAL_WINDOW_DAYS = 14
"""A waiver ending within this many days of the collection date is listed so someone renews it or fixes."""


@dataclass(frozen=True)
class WaiverState:
    """One `[[waiver]]` of the baseline as this run saw it (docs/baseline.md)."""

    check: str
    resource: str
    reason: str
    expires: str
    """ISO date; the waiver applies through this day."""
    state: str
    """"active", "expiring" (ends within RENEWAL_WINDOW_DAYS of the collection date) or "expired"."""
    days_left: int
    """Days from the collection date to `expires`; negative once expired."""
    matched: int
    """Findings it covers or would cover: FAIL, WAIVED, or ERROR (the verdict is unknown, so it may still be needed)."""

    @property
    def stale(self) -> bool:
        """It matches no finding that needs it: the problem was fixed or the resource is gone."""
        return self.matched == 0

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "resource": self.resource, "reason": self.reason, "expires": self.expires,
                "state": self.state, "days_left": self.days_left, "matched": self.matched, "stale": self.stale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaiverState:
        return cls(check=str(data["check"]), resource=str(data["resource"]), reason=str(data["reason"]),
                   expires=str(data["expires"]), state=str(data["state"]), days_left=int(data["days_left"]),
                   matched=int(data["matched"]))


@dataclass(frozen=True)
class DriftEntry:
    """One finding whose verdict differs from the earlier run; `before`/`after` are None when absent there."""

    check_id: str
    integration: str
    resource: str
    severity: Severity
    title: str
    before: Status | None
    after: Status | None
    message: str
    """The latest message: this run's, or the earlier run's for a finding that is gone."""

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.check_id, self.integration, self.resource)

    def to_dict(self) -> dict[str, Any]:
        return {"check_id": self.check_id, "integration": self.integration, "resource": self.resource,
                "severity": self.severity.value, "title": self.title,
                "before": self.before.value if self.before else None,
                "after": self.after.value if self.after else None, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftEntry:
        return cls(check_id=str(data["check_id"]), integration=str(data["integration"]),
                   resource=str(data["resource"]), severity=Severity(data["severity"]), title=str(data["title"]),
                   before=Status(data["before"]) if data.get("before") else None,
                   after=Status(data["after"]) if data.get("after") else None, message=str(data["message"]))


@dataclass(frozen=True)
class RunRef:
    """The run a document is compared with: a history run (`run_id`) or a findings.json file (`source`)."""

    collected_at: str
    tenant_id: str
    baseline_file: str
    run_id: int | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "source": self.source, "collected_at": self.collected_at,
                "tenant_id": self.tenant_id, "baseline_file": self.baseline_file}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRef:
        run_id = data.get("run_id")
        return cls(collected_at=str(data["collected_at"]), tenant_id=str(data.get("tenant_id") or ""),
                   baseline_file=str(data.get("baseline_file") or ""),
                   run_id=int(run_id) if run_id is not None else None, source=str(data.get("source") or ""))


@dataclass(frozen=True)
class Drift:
    """What changed since `previous` (docs/scheduling.md, "Drift"); None there means no earlier run to compare with."""

    previous: RunRef | None
    new: tuple[DriftEntry, ...] = ()
    """FAIL or ERROR now, and not so before (absent, PASS, SKIP or WAIVED; ERROR before counts for a FAIL now)."""
    resolved: tuple[DriftEntry, ...] = ()
    """FAIL or ERROR before, PASS or gone now."""
    changed: tuple[DriftEntry, ...] = ()
    """Any other change of status of a finding present in both runs."""
    unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "previous_run": self.previous.to_dict() if self.previous else None,
            "counts": {"new": len(self.new), "resolved": len(self.resolved), "changed": len(self.changed),
                       "unchanged": self.unchanged},
            "new": [e.to_dict() for e in self.new],
            "resolved": [e.to_dict() for e in self.resolved],
            "changed": [e.to_dict() for e in self.changed],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Drift:
        previous = data.get("previous_run")
        return cls(previous=RunRef.from_dict(previous) if previous else None,
                   new=tuple(DriftEntry.from_dict(e) for e in data.get("new") or ()),
                   resolved=tuple(DriftEntry.from_dict(e) for e in data.get("resolved") or ()),
                   changed=tuple(DriftEntry.from_dict(e) for e in data.get("changed") or ()),
                   unchanged=int((data.get("counts") or {}).get("unchanged") or 0))


@dataclass(frozen=True)
class TrendPoint:
    """One stored run in the trend chart; `run_id` is None for the run the report belongs to."""

    collected_at: str
    failures_by_severity: dict[str, int]
    errors: int
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "collected_at": self.collected_at,
                "failures_by_severity": self.failures_by_severity, "errors": self.errors}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrendPoint:
        run_id = data.get("run_id")
        return cls(collected_at=str(data["collected_at"]),
                   failures_by_severity={str(k): int(v) for k, v in dict(data["failures_by_severity"]).items()},
                   errors=int(data.get("errors") or 0), run_id=int(run_id) if run_id is not None else None)


@dataclass(frozen=True)
class RunInfo:
    """Who, what and when: shown in every report header. Deterministic for the same inputs."""

    tenant_id: str
    tenant_domain: str
    tenant_name: str
    collected_at: str
    tool_version: str
    baseline_sha256: str
    baseline_file: str
    title: str = ""
    organisation: str = ""
    collection: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FindingsDocument:
    """findings.json: run metadata, summary counts, inventory and every finding (docs/architecture.md)."""

    run: RunInfo
    summary: dict[str, Any]
    inventory: dict[str, Any]
    findings: tuple[Finding, ...]
    waivers: tuple[WaiverState, ...] = ()
    """Every waiver of the baseline with its state; written only when the baseline has waivers."""
    drift: Drift | None = None
    """Since the previous run of this tenant and baseline; only when history is on (None keeps the file as before)."""
    trend: tuple[TrendPoint, ...] = ()
    """Failures by severity over the stored runs, oldest first, this run last; only with history."""

    def to_dict(self) -> dict[str, Any]:
        out = self._core_dict()
        if self.waivers:
            out["waivers"] = [w.to_dict() for w in self.waivers]
        if self.drift is not None:
            out["drift"] = self.drift.to_dict()
            out["history"] = {"trend": [p.to_dict() for p in self.trend]}
        return out

    def _core_dict(self) -> dict[str, Any]:
        return {
            "schema_version": FINDINGS_SCHEMA_VERSION,
            "run": {
                "tenant": {"id": self.run.tenant_id, "domain": self.run.tenant_domain, "name": self.run.tenant_name},
                "collected_at": self.run.collected_at,
                "tool_version": self.run.tool_version,
                "baseline": {"file": self.run.baseline_file, "sha256": self.run.baseline_sha256},
                "title": self.run.title,
                "organisation": self.run.organisation,
                "collection": self.run.collection,
            },
            "summary": self.summary,
            "inventory": self.inventory,
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> FindingsDocument:
        """Raises KeyError, TypeError or ValueError on a malformed document (callers map it to InputError)."""
        if (bad := lone_surrogate_at(doc)) is not None:
            raise ValueError(f"{bad}: holds a lone surrogate (\\ud800-\\udfff escape), not valid Unicode text")
        if doc.get("schema_version") != FINDINGS_SCHEMA_VERSION:
            raise ValueError(f"schema_version is {doc.get('schema_version')!r}; expected {FINDINGS_SCHEMA_VERSION}")
        run = doc["run"]
        try:  # within the years every report's windows around it stay on the calendar
            parse_run_time(run["collected_at"])
        except ValueError as exc:
            raise ValueError(f"run.collected_at: {exc}") from None
        info = RunInfo(
            tenant_id=str(run["tenant"]["id"]), tenant_domain=str(run["tenant"].get("domain") or ""),
            tenant_name=str(run["tenant"].get("name") or ""), collected_at=str(run["collected_at"]),
            tool_version=str(run.get("tool_version") or ""), baseline_sha256=str(run["baseline"].get("sha256") or ""),
            baseline_file=str(run["baseline"].get("file") or ""), title=str(run.get("title") or ""),
            organisation=str(run.get("organisation") or ""), collection=dict(run.get("collection") or {}),
        )
        drift = doc.get("drift")
        return cls(run=info, summary=dict(doc["summary"]), inventory=dict(doc.get("inventory") or {}),
                   findings=tuple(Finding.from_dict(f) for f in doc["findings"]),
                   waivers=tuple(WaiverState.from_dict(w) for w in doc.get("waivers") or ()),
                   drift=Drift.from_dict(drift) if drift is not None else None,
                   trend=tuple(TrendPoint.from_dict(p) for p in (doc.get("history") or {}).get("trend") or ()))


def load_findings(path: Path) -> FindingsDocument:
    """A findings.json written by an earlier run; anything else is one InputError line (exit 2). The one reader
    of the file kind, for `auditor report` and `auditor diff` alike."""
    try:
        return FindingsDocument.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except RecursionError:  # json.loads recurses into nested arrays and objects
        raise InputError(f"{path}: nested too deeply to be a findings.json document") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: not a findings.json document ({type(exc).__name__}: {exc})") from None
