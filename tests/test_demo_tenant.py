"""The bundled demo tenant stays in step with its generator and loads in the emulator."""

import json

from auditor.demo import DEMO_TENANT
from auditor.emulator.tenant import load_tenant
from tests import make_demo_tenant


def test_demo_tenant_is_what_the_generator_builds():
    assert json.loads(DEMO_TENANT.read_text()) == make_demo_tenant.build(), \
        "stale demo tenant: run `python -m tests.make_demo_tenant`"


def test_demo_tenant_loads_with_its_relative_dates_resolved():
    tenant = load_tenant(DEMO_TENANT)
    assert tenant.default_domain == "contoso.onmicrosoft.com"
    dates = [c["endDateTime"] for a in tenant.doc["graph"]["applications"] for c in a["passwordCredentials"]]
    assert dates and all(d[:2] == "20" and d.endswith("Z") for d in dates)
