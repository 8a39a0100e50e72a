"""The catalog is the published one (ids, titles, severities, order) and every check carries its metadata."""

import importlib
import json
from pathlib import Path

import pytest

from auditor.catalog_doc import render_catalog
from auditor.checks import CATALOG
from auditor.checks.base import CheckSpec
from auditor.models.findings import Severity
from auditor.models.snapshot import SECTION_NAMES

# The published catalog: changing a line here changes the product's contract (docs/checks.md, reports, waivers).
DESIGN_CATALOG = {
    "APP-001": ("The app registration and its service principal exist and are enabled", "critical"),
    "PERM-001": ("Every baseline permission is requested by the registration", "medium"),
    "PERM-002": ("No application permission beyond the baseline is requested or granted", "high"),
    "PERM-003": ("No directory-takeover permission is requested or granted", "critical"),
    "PERM-004": ("The app holds no delegated permission grants", "medium"),
    "CONSENT-001": ("Admin consent is granted for every baseline permission", "high"),
    "CONSENT-002": ("Every granted permission is declared on the registration", "medium"),
    "CRED-001": ("The app has at least one unexpired credential", "high"),
    "CRED-002": ("The app's credentials do not run out within the warning window", "medium"),
    "CRED-003": ("No expired credentials linger on the registration", "low"),
    "CRED-004": ("Client secrets live no longer than the policy allows", "medium"),
    "CRED-005": ("The app authenticates with a certificate, not a client secret", "low"),
    "CRED-006": ("The service principal carries no credentials of its own", "high"),
    "OWN-001": ("The registration's owners are approved, enabled members", "medium"),
    "GRP-001": ("The scope group exists and is a mail-enabled security group", "critical"),
    "GRP-002": ("Every queue mailbox is in the scope group", "high"),
    "GRP-003": ("The scope group holds nothing beyond the queue mailboxes", "high"),
    "GRP-004": ("Only approved managers can change the scope group", "medium"),
    "MBX-001": ("Every queue mailbox exists and is a shared mailbox", "medium"),
    "MBX-002": ("Sign-in is blocked for every queue mailbox's account", "medium"),
    "SCOPE-001": ("The app's mailbox access is restricted", "critical"),
    "SCOPE-002": ("The access policy targets the scope group and is valid", "high"),
    "SCOPE-003": ("The app's access policy is unambiguous", "medium"),
    "SCOPE-004": ("Effective access is granted to every queue mailbox", "high"),
    "SCOPE-005": ("Effective access is denied outside the scope group", "critical"),
    "SCOPE-006": ("RBAC for Applications assignments of the app are scoped", "high"),
    "SCOPE-007": ("The app can reach only its queue mailboxes", "critical"),
    "TEN-001": ("Every app with mailbox-data permissions is restricted", "critical"),
    "TEN-002": ("No app holds directory-takeover permissions unless approved", "critical"),
    "TEN-003": ("No app's credentials run out within the warning window", "medium"),
    "TEN-004": ("No app still holds EWS `full_access_as_app` (EWS in Exchange Online is retired from October 2026)",
                "medium"),
}


def test_catalog_ids_titles_and_severities_match_design():
    ours = {c.id: (c.title, c.severity.value) for c in CATALOG}
    design = {k: (t.replace("`", ""), s) for k, (t, s) in DESIGN_CATALOG.items()}
    assert ours == design
    assert [c.id for c in CATALOG] == list(DESIGN_CATALOG)  # report order is the design's order


@pytest.mark.parametrize("spec", CATALOG, ids=lambda c: c.id)
def test_every_check_has_metadata(spec: CheckSpec):
    assert isinstance(spec.severity, Severity)
    assert spec.scope in ("integration", "tenant")
    assert spec.id.startswith("TEN-") == (spec.scope == "tenant")
    assert len(spec.rationale) > 40 and len(spec.remediation) > 20
    assert spec.references and all(r.startswith("https://") for r in spec.references)
    assert spec.needs and set(spec.needs) <= set(SECTION_NAMES)
    assert spec.func.__doc__ is None or spec.func.__doc__.strip()


def test_no_check_is_defined_outside_the_catalog():
    listed = {id(c) for c in CATALOG}
    for family in ("app", "credentials", "group", "mailbox", "reach", "scope", "tenant"):
        module = importlib.import_module(f"auditor.checks.{family}")
        for name, value in vars(module).items():
            if isinstance(value, CheckSpec):
                assert id(value) in listed, f"{family}.{name} ({value.id}) is not in the catalog"


def test_checks_json_lists_the_thirty_one_ids():
    rows = json.loads(render_catalog("json"))
    assert [r["id"] for r in rows] == list(DESIGN_CATALOG)
    assert all({"id", "title", "severity"} <= set(r) for r in rows)


def test_docs_checks_md_is_generated_from_the_catalog():
    doc = Path(__file__).resolve().parent.parent / "docs" / "checks.md"
    assert doc.read_text(encoding="utf-8") == render_catalog("markdown"), \
        "docs/checks.md is stale: run `auditor checks --format markdown > docs/checks.md`"
