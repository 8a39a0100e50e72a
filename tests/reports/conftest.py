"""Documents for the report tests: the bundled sample, a hostile one, and a large one.

The hostile document puts a distinct script-bearing payload in every tenant-controlled field, so a test can
prove each one is rendered *and* escaped (its escaped form is present, no element or handler came from it).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from auditor.models.findings import Finding, FindingsDocument, RunInfo, Severity, Status
from auditor.models.snapshot import load_snapshot
from auditor.pipeline import build_document
from samples import SAMPLES_DIR

CHROMIUM = Path("/usr/bin/chromium")


def payload(n: int) -> str:
    """Markup that would run script if it reached the page unescaped; `n` tells the fields apart."""
    return f"<img src=x onerror=alert({n})>\"'<script>alert({n})</script>&"


def escaped(n: int) -> str:
    """payload(n) as Jinja2's autoescape writes it, in text and in attribute values alike."""
    return f"&lt;img src=x onerror=alert({n})&gt;&#34;&#39;&lt;script&gt;alert({n})&lt;/script&gt;&amp;"


@pytest.fixture(scope="session")
def sample_doc() -> FindingsDocument:
    snapshot = load_snapshot(SAMPLES_DIR / "snapshots" / "sample-snapshot.json")
    baseline = load_baseline(SAMPLES_DIR / "baselines" / "sample.toml")
    return build_document(snapshot, baseline, evaluate(snapshot, baseline))


def hostile_finding(n: int, status: Status, **overrides: Any) -> Finding:
    base = dict(
        check_id="SCOPE-005", title=payload(13), severity=Severity.CRITICAL, status=status, integration=payload(14),
        resource=payload(15), message=payload(16), evidence={payload(17): payload(18)}, provenance=(payload(19),),
        remediation=payload(20), references=("javascript:alert(1)", "http://insecure.example/" + payload(21)),
        waiver={"reason": payload(22), "expires": payload(23), "expired": True},
    )
    base.update(overrides)
    return Finding(**base)  # type: ignore[arg-type]


# Fields numbered as payload(n). HOSTILE_FIELDS: every n shown as text or attribute value. Not in it: 8 (unused),
# 17 and 18 (evidence, shown as JSON: EVIDENCE_FIELDS) and 43 (a policy's AppId, shown as "this app").
EVIDENCE_FIELDS = (17, 18)
HOSTILE_FIELDS = [n for n in range(1, 60) if n not in (8, 17, 18, 43)]


@pytest.fixture(scope="session")
def hostile_doc() -> FindingsDocument:
    return build_hostile_doc()


def build_hostile_doc() -> FindingsDocument:
    p = payload
    run = RunInfo(tenant_id=p(1), tenant_domain=p(2), tenant_name=p(3), collected_at="2026-06-01T12:00:00Z",
                  tool_version=p(9), baseline_sha256=p(5), baseline_file=p(4), title=p(6), organisation=p(7),
                  collection={"source": p(10), "exchange_transport": p(11)})
    integration = {
        "name": p(14), "app_id": p(24), "access_model": p(25), "display_name": p(26),
        "permissions": {"baseline": [p(27)], "allowed_extra": [p(28)], "requested": [p(29)], "granted": [p(30)]},
        "credentials": [{"keyId": p(31), "type": p(32), "displayName": p(33), "startDateTime": p(34),
                         "endDateTime": p(35), "days_left": 3},
                        {"keyId": "k2", "type": "secret", "displayName": "ok", "startDateTime": "2026-01-01T00:00:00Z",
                         "endDateTime": "2026-06-20T00:00:00Z", "days_left": 18}],
        "service_principal_credentials": [{"keyId": "k3", "type": "secret", "displayName": p(36),
                                           "startDateTime": "2026-01-01T00:00:00Z",
                                           "endDateTime": "2027-01-01T00:00:00Z", "days_left": 214}],
        "scope_group": {"address": p(37), "exists": True, "RecipientTypeDetails": p(38),
                        "MemberJoinRestriction": p(39), "ManagedBy": [p(40)], "members": [p(41)],
                        "nested_groups": [p(42)]},
        "policies": [{"AppId": p(43), "AccessRight": p(44), "ScopeName": p(45), "IsValid": True}],
        "rbac_assignments": [{"Name": p(46), "Role": p(47), "CustomResourceScope": p(48),
                              "RecipientGroupScope": None, "organisation_wide": False}],
        "access_tests": [{"mailbox": p(49), "role": "canary", "AccessCheckResult": p(50),
                          "rbac_in_scope": [p(51)]}],
    }
    broken = {"name": "broken", "app_id": "x", "access_model": "policy", "display_name": "",
              "permissions": {"unavailable": p(58)}, "credentials": [], "service_principal_credentials": [],
              "scope_group": {"unavailable": p(59)}, "policies": {"unavailable": "exo down"},
              "rbac_assignments": {"unavailable": "exo down"}, "access_tests": []}
    sweep = [{"app_id": p(52), "display_name": p(53), "mailbox_permissions": [p(54)],
              "takeover_permissions": [p(55)], "rbac_mailbox_roles": [p(56)], "policies": [p(57)]}]
    findings = (
        hostile_finding(1, Status.FAIL, resource=p(49)),
        hostile_finding(2, Status.PASS, check_id=p(12), resource=p(15)),
        hostile_finding(3, Status.ERROR, integration="", resource=p(52), check_id="TEN-001"),
    )
    return FindingsDocument(run=run, summary={}, inventory={"integrations": [integration, broken], "sweep": sweep},
                            findings=findings)


def many_findings(doc: FindingsDocument, count: int) -> FindingsDocument:
    """`count` findings cycled from `doc`, each with its own resource (as a large tenant would give)."""
    source = doc.findings
    findings = tuple(dataclasses.replace(source[i % len(source)], resource=f"{source[i % len(source)].resource}#{i}")
                     for i in range(count))
    return dataclasses.replace(doc, findings=findings)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; missing fails the test in CI (CI set) and skips it elsewhere."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        message = f"{CHROMIUM} not found: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM
