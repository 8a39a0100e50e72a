"""A check's `needs` is what it reads: docs/checks.md and `auditor checks` publish it as "Reads:".

The engine records every snapshot section a check touched as the finding's provenance. Over builder tenants
for both access models (and the odd cases: no app, a vendor's app, Exchange switched off) and over the bundled
sample snapshot, every finding's provenance must lie within its check's declared `needs`; and losing any
section a check touched turns that check's findings into ERROR naming the section (or a FAIL that other
evidence proves), never a PASS or SKIP.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from auditor.checks import CATALOG
from auditor.engine import evaluate
from auditor.models.baseline import Baseline, SweepConfig, load_baseline
from auditor.models.findings import Finding, Status
from auditor.models.snapshot import SECTION_NAMES, Snapshot, load_snapshot
from samples import SAMPLES_DIR
from tests.builders import (
    APP,
    OTHER_APP,
    SnapshotBuilder,
    baseline,
    cert,
    compliant_tenant,
    integration,
    user_owner,
)

QUEUES = ("support@contoso.com", "sales@contoso.com")
SWEEP = SweepConfig(enabled=True)
SPECS = {c.id: c for c in CATALOG}


def policy_tenant() -> SnapshotBuilder:
    """The classic setup, plus a scoped RBAC assignment and a delegated grant so every read path runs."""
    b = compliant_tenant()
    b.role_assignment(APP, "cc-extra", "Application Mail.Read", custom_scope="CC queues")
    b.authorization_test(APP, "ceo@contoso.com", [("Application Mail.Read", False)])
    b.delegated(APP, "User.Read")
    b.app(OTHER_APP, "Other", requested=("Mail.Read", "Application.ReadWrite.All", "Exchange:full_access_as_app"),
          certificates=[cert()], credentials=[])
    return b


def rbac_tenant() -> SnapshotBuilder:
    """RBAC for Applications: no Entra mailbox grant, scoped assignments, authorization tests per mailbox."""
    b = SnapshotBuilder()
    b.app(APP, requested=(), granted=(), credentials=[], certificates=[cert()],
          owners=[user_owner("owner@contoso.com")])
    for address in QUEUES:
        b.mailbox(address)
        b.authorization_test(APP, address, [("Application Mail.ReadWrite", True), ("Application Mail.Send", True)])
    b.mailbox("ceo@contoso.com", "UserMailbox", user=True)
    b.authorization_test(APP, "ceo@contoso.com", [("Application Mail.ReadWrite", False)])
    b.group("cctr_sec_group@contoso.com", list(QUEUES))
    b.role_assignment(APP, "cc-readwrite", "Application Mail.ReadWrite", custom_scope="CC queues")
    b.role_assignment(APP, "cc-send", "Application Mail.Send", custom_scope="CC queues")
    b.canaries(APP, ["ceo@contoso.com"])
    return b


def vendor_app_tenant() -> SnapshotBuilder:
    """A multi-tenant app published elsewhere: a service principal here, no application object."""
    b = compliant_tenant()
    b.data("graph.applications").clear()
    for sp in b.data("graph.servicePrincipals"):
        if sp["appId"] == APP:
            sp["appOwnerOrganizationId"] = "99999999-8888-7777-6666-555555555555"
    return b


def missing_app_tenant() -> SnapshotBuilder:
    b = compliant_tenant()
    b.data("graph.applications").clear()
    b.sections["graph.servicePrincipals"]["data"] = [
        sp for sp in b.data("graph.servicePrincipals") if sp["appId"] != APP]
    return b


def exchange_off_tenant() -> SnapshotBuilder:
    b = compliant_tenant()
    b.collection["exchange_transport"] = "none"
    for name in SECTION_NAMES:
        if name.startswith("exchange."):
            b.fail(name, "not collected: transport none")
    return b


POLICY = baseline(sweep=SWEEP)
RBAC = baseline(integration(access_model="rbac", scope_group=""), sweep=SWEEP)
RBAC_WITH_GROUP = baseline(integration(access_model="rbac"), sweep=SWEEP)

CASES: dict[str, tuple[Callable[[], SnapshotBuilder], Baseline]] = {
    "policy": (policy_tenant, POLICY),
    "rbac": (rbac_tenant, RBAC),
    "rbac-with-scope-group": (rbac_tenant, RBAC_WITH_GROUP),
    "vendor-app": (vendor_app_tenant, POLICY),
    "missing-app": (missing_app_tenant, POLICY),
    "exchange-off": (exchange_off_tenant, POLICY),
}


def touched(finding: Finding) -> set[str]:
    """Provenance entries read "section: source"; section names hold no ': '."""
    return {entry.split(": ", 1)[0] for entry in finding.provenance}


def undeclared(findings: tuple[Finding, ...]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in findings:
        extra = touched(f) - set(SPECS[f.check_id].needs)
        if extra:
            out.setdefault(f.check_id, set()).update(extra)
    return out


@pytest.mark.parametrize("case", CASES)
def test_every_section_a_check_reads_is_declared(case: str):
    make, base = CASES[case]
    findings = evaluate(make().build(), base).findings
    if case == "policy":  # this tenant gives every check something to judge
        assert {f.check_id for f in findings} == set(SPECS)
    assert undeclared(findings) == {}


def test_sample_snapshot_reads_are_declared():
    snapshot: Snapshot = load_snapshot(SAMPLES_DIR / "snapshots" / "sample-snapshot.json")
    findings = evaluate(snapshot, load_baseline(SAMPLES_DIR / "baselines" / "sample.toml")).findings
    assert undeclared(findings) == {}


@pytest.mark.parametrize("case", ["policy", "rbac"])
def test_losing_any_section_a_check_read_makes_it_error_naming_the_section(case: str):
    make, base = CASES[case]
    reads: dict[str, set[str]] = {}
    for f in evaluate(make().build(), base).findings:
        reads.setdefault(f.check_id, set()).update(touched(f))
    wrong = []
    for check_id, sections in sorted(reads.items()):
        for section in sorted(sections):
            b = make()
            b.fail(section)
            for f in evaluate(b.build(), base, catalog=(SPECS[check_id],)).findings:
                # a FAIL may stand on other evidence (an unrestricted Entra grant fails whatever RBAC says)
                if f.status is Status.FAIL:
                    continue
                if f.status is not Status.ERROR or section not in f.message:
                    wrong.append((check_id, section, f.resource, f.status.value, f.message))
    assert wrong == []
