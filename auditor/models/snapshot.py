"""The snapshot: one JSON document holding every fact the checks read, section by section.

Sections keep Microsoft's own property names (`appRoleId`, `passwordCredentials`, `AccessRight`,
`ScopeIdentityRaw`). A section records where its data came from (`source`), whether the read worked
(`status`, `error`), and for look-up sections the identities that were asked for (`queried`), so that
"asked and not found" (a finding) is never confused with "never asked" (an ERROR).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.models import json_text
from auditor.models.timeutil import parse_run_time
from auditor.models.wellformed import lone_surrogate_at

SCHEMA_VERSION = 1

# Every section the collectors fill, and the checks may ask for (docs/snapshot.md).
SECTION_NAMES = (
    "graph.resources",
    "graph.applications",
    "graph.servicePrincipals",
    "graph.appRoleAssignments",
    "graph.oauth2PermissionGrants",
    "graph.users",
    "exchange.applicationAccessPolicies",
    "exchange.recipients",
    "exchange.groups",
    "exchange.mailboxes",
    "exchange.accessTests",
    "exchange.servicePrincipals",
    "exchange.roleAssignments",
    "exchange.managementScopes",
    "exchange.authorizationTests",
    "canaries",
    "exchange.actualScope",
)


class SectionStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    NOT_COLLECTED = "not_collected"


@dataclass(frozen=True)
class Section:
    """One block of evidence.

    `data` is a list of Microsoft-shaped objects (or, for `canaries`, an object keyed by app id).
    `queried` is None for complete listings; for look-ups it lists the identities asked for.
    `item_errors` maps an item key (e.g. "appId|mailbox") to the error that item's read met.
    """

    name: str
    source: str
    status: SectionStatus
    error: str | None = None
    data: Any = None
    queried: tuple[str, ...] | None = None
    item_errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "status": self.status.value, "error": self.error}
        if self.queried is not None:
            out["queried"] = list(self.queried)
        if self.item_errors:
            out["item_errors"] = dict(sorted(self.item_errors.items()))
        out["data"] = self.data
        return out


@dataclass(frozen=True)
class Snapshot:
    schema_version: int
    tenant_id: str
    tenant_domain: str
    collected_at: datetime
    tool_version: str
    baseline_hash: str
    sections: dict[str, Section]
    tenant_name: str = ""
    collection: dict[str, Any] = field(default_factory=dict)
    """Run facts that are not evidence: transport, endpoints, request counts, canary-pool source."""

    def section(self, name: str) -> Section | None:
        return self.sections.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tenant": {"id": self.tenant_id, "domain": self.tenant_domain, "name": self.tenant_name},
            "collected_at": self.collected_at.isoformat().replace("+00:00", "Z"),
            "tool_version": self.tool_version,
            "baseline_hash": self.baseline_hash,
            "collection": self.collection,
            "sections": {name: self.sections[name].to_dict() for name in sorted(self.sections)},
        }

    def to_json(self) -> str:
        return json_text.dumps(self.to_dict()) + "\n"  # json.dumps(..., indent=2, ensure_ascii=False), faster


def snapshot_from_dict(doc: Any, origin: str = "snapshot") -> Snapshot:
    """Validate the envelope of a snapshot document; the checks validate the objects they read."""

    def bad(what: str) -> InputError:
        return InputError(f"{origin}: {what}")

    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise bad(f"schema_version is {version!r}; this auditor reads schema_version {SCHEMA_VERSION}")
    tenant = doc.get("tenant")
    if not isinstance(tenant, dict) or not isinstance(tenant.get("id"), str):
        raise bad("tenant.id is missing or not a string")
    try:
        collected_at = parse_run_time(doc.get("collected_at"))
    except ValueError as exc:
        raise bad(f"collected_at: {exc}") from None
    raw_sections = doc.get("sections")
    if not isinstance(raw_sections, dict):
        raise bad("sections is missing or not an object")
    if not isinstance(doc.get("collection") or {}, dict):
        raise bad("collection is not an object")
    sections: dict[str, Section] = {}
    for name, raw in raw_sections.items():
        if name not in SECTION_NAMES:
            raise bad(f"sections.{name}: unknown section (known: {', '.join(SECTION_NAMES)})")
        sections[name] = _section_from_dict(name, raw, bad)
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        tenant_id=tenant["id"],
        tenant_domain=str(tenant.get("domain") or ""),
        tenant_name=str(tenant.get("name") or ""),
        collected_at=collected_at,
        tool_version=str(doc.get("tool_version") or ""),
        baseline_hash=str(doc.get("baseline_hash") or ""),
        collection=dict(doc.get("collection") or {}),
        sections=sections,
    )


def _section_from_dict(name: str, raw: Any, bad: Any) -> Section:
    if not isinstance(raw, dict):
        raise bad(f"sections.{name}: not an object")
    try:
        status = SectionStatus(str(raw.get("status")))
    except ValueError:
        raise bad(f"sections.{name}.status: {raw.get('status')!r} is not ok, error or not_collected") from None
    queried = raw.get("queried")
    if queried is not None and not (isinstance(queried, list) and all(isinstance(q, str) for q in queried)):
        raise bad(f"sections.{name}.queried: must be a list of strings")
    item_errors = raw.get("item_errors") or {}
    if not isinstance(item_errors, dict):
        raise bad(f"sections.{name}.item_errors: must be an object")
    data = raw.get("data")
    if status is SectionStatus.OK and data is None:
        raise bad(f"sections.{name}: status is ok but data is missing")
    return Section(
        name=name,
        source=str(raw.get("source") or ""),
        status=status,
        error=raw.get("error"),
        data=data,
        queried=tuple(queried) if queried is not None else None,
        item_errors={str(k): str(v) for k, v in item_errors.items()},
    )


def load_snapshot(path: Path) -> Snapshot:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: not valid JSON (nested too deeply)") from None
    if (bad := lone_surrogate_at(doc)) is not None:
        raise InputError(f"{path}: {bad}: holds a lone surrogate (\\ud800-\\udfff escape), not valid Unicode text")
    return snapshot_from_dict(doc, origin=str(path))
