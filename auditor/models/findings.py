"""Findings: the verdicts the engine produces and the reports render."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
    waiver: dict[str, str] | None = None
    """For WAIVED findings, and FAILs whose waiver expired: reason, expires, and whether it expired."""

    @property
    def identity(self) -> tuple[str, str, str]:
        """What drift and waivers match on (DESIGN.md section 5)."""
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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Inverse of to_dict; raises KeyError/ValueError on a malformed entry (callers map it to InputError)."""
        return cls(
            check_id=str(data["check_id"]),
            title=str(data["title"]),
            severity=Severity(data["severity"]),
            status=Status(data["status"]),
            integration=str(data["integration"]),
            resource=str(data["resource"]),
            message=str(data["message"]),
            evidence=dict(data.get("evidence") or {}),
            provenance=tuple(data.get("provenance") or ()),
            remediation=str(data.get("remediation") or ""),
            references=tuple(data.get("references") or ()),
            waiver=data.get("waiver"),
        )


FINDINGS_SCHEMA_VERSION = 1


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
    """findings.json: run metadata, summary counts, inventory and every finding (DESIGN.md section 6)."""

    run: RunInfo
    summary: dict[str, Any]
    inventory: dict[str, Any]
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
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
        if doc.get("schema_version") != FINDINGS_SCHEMA_VERSION:
            raise ValueError(f"schema_version is {doc.get('schema_version')!r}; expected {FINDINGS_SCHEMA_VERSION}")
        run = doc["run"]
        info = RunInfo(
            tenant_id=str(run["tenant"]["id"]), tenant_domain=str(run["tenant"].get("domain") or ""),
            tenant_name=str(run["tenant"].get("name") or ""), collected_at=str(run["collected_at"]),
            tool_version=str(run.get("tool_version") or ""), baseline_sha256=str(run["baseline"].get("sha256") or ""),
            baseline_file=str(run["baseline"].get("file") or ""), title=str(run.get("title") or ""),
            organisation=str(run.get("organisation") or ""), collection=dict(run.get("collection") or {}),
        )
        return cls(run=info, summary=dict(doc["summary"]), inventory=dict(doc.get("inventory") or {}),
                   findings=tuple(Finding.from_dict(f) for f in doc["findings"]))
