"""One problem, one root cause: a mailbox the app can reach (SCOPE-005, SCOPE-007) that a configuration
failure explains (SCOPE-001 unrestricted access, SCOPE-002 a policy on the wrong group or invalid, GRP-003 an
extra member of the scope group) names that failure in its message and remediation.

The reachable finding keeps its own severity (critical): a readable mailbox is critical wherever the cause
lies. Pure: it reads the findings of one evaluation only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from auditor.models.findings import Finding, Status

REACH_CHECKS = ("SCOPE-005", "SCOPE-007")


def _policy_path(f: Finding) -> bool:
    """Whether a reach finding involves the Entra (access-policy) path."""
    if f.check_id == "SCOPE-005":
        return str(f.evidence.get("AccessCheckResult", "")).lower() == "granted" or "untested" in f.evidence
    return f.evidence.get("paths") in ("policy", "combined")


def _rbac_wide(f: Finding) -> bool:
    if f.check_id == "SCOPE-005":
        return bool(f.evidence.get("rbac_in_scope")) or "untested" in f.evidence
    return any(isinstance(p, dict) and p.get("scope_type") == "Organization" for p in f.evidence.get("by_path") or ())


def _scope001_explains(cause: Finding, f: Finding) -> bool:
    entra_open = bool(cause.evidence.get("entra_mailbox_permissions")) and not cause.evidence.get(
        "restricting_policies")
    roles: Any = cause.evidence.get("rbac_mailbox_roles") or ()
    rbac_open = any(isinstance(r, dict) and r.get("organisation_wide") for r in roles)
    return (entra_open and _policy_path(f)) or (rbac_open and _rbac_wide(f))


def _cause(f: Finding, mine: list[Finding]) -> Finding | None:
    for cause in mine:
        if cause.status is not Status.FAIL:
            continue
        if cause.check_id == "SCOPE-001" and _scope001_explains(cause, f):
            return cause
    for cause in mine:
        if cause.status is Status.FAIL and cause.check_id == "SCOPE-002" and _policy_path(f):
            return cause
    reached = {f.resource} if f.check_id == "SCOPE-005" else set(f.evidence.get("mailboxes") or ())
    for cause in mine:
        if cause.status is Status.FAIL and cause.check_id == "GRP-003" and cause.resource in reached \
                and _policy_path(f):
            return cause
    return None


def link_root_causes(findings: Iterable[Finding]) -> list[Finding]:
    findings = list(findings)
    by_integration: dict[str, list[Finding]] = {}
    for f in findings:
        if f.integration:
            by_integration.setdefault(f.integration, []).append(f)
    out = []
    for f in findings:
        cause = _cause(f, by_integration.get(f.integration, [])) if (
            f.check_id in REACH_CHECKS and f.status is Status.FAIL) else None
        if cause is None:
            out.append(f)
            continue
        what = f"{cause.check_id} {cause.resource}" if cause.check_id == "GRP-003" else cause.check_id
        out.append(replace(
            f, message=f"{f.message} (root cause: {what}: {cause.message})",
            remediation=f"Fix the root cause first ({cause.check_id}): {cause.remediation} Then: {f.remediation}",
            evidence={**f.evidence, "root_cause": cause.check_id}))
    return out
