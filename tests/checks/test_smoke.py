from auditor.checks import CATALOG
from auditor.engine import evaluate
from auditor.models.findings import Status
from tests.builders import baseline, compliant_tenant


def test_compliant_tenant_passes_every_check_or_skips_with_reason():
    result = evaluate(compliant_tenant().build(), baseline())
    bad = [(f.check_id, f.resource, f.status.value, f.message) for f in result.findings
           if f.status not in (Status.PASS, Status.SKIP)]
    assert bad == []
    assert {f.check_id for f in result.findings} >= {c.id for c in CATALOG if c.scope == "integration"}
