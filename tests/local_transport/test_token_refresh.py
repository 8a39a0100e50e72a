"""A local pwsh session outliving its token connects again with a fresh one, as the jump host does (bounded)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from auditor.collect import children
from auditor.collect.local_pool import open_local_pool
from auditor.collect.shell import Command
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, running_emulator
from auditor.emulator.faults import FaultPlan
from auditor.models.baseline import load_baseline
from tests.emulator_exchange.helpers import exchange_token

LIFETIME_S = 2  # the emulator's token lifetime: the second read below comes after the first token expired


def test_a_child_older_than_its_token_connects_again_and_keeps_reading(tmp_path: Path) -> None:
    doc = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    doc["emulator"]["tokenLifetimeSeconds"] = LIFETIME_S
    tenant = tmp_path / "short-tokens.json"
    tenant.write_text(json.dumps(doc), encoding="utf-8")
    base = load_baseline(DEMO_BASELINE)
    base = dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, transport="local", pools=1))
    with running_emulator(tenant, FaultPlan()) as server:
        aimed = emulator_baseline(base, server)
        issued: list[str] = []

        def fresh_token() -> str:
            issued.append(exchange_token(server, tenant_id=server.tenant.id))
            return issued[-1]

        pool = open_local_pool(aimed, fresh_token)
        try:
            first = pool.run([Command("Get-ServicePrincipal")])
            time.sleep(LIFETIME_S + 0.5)  # the session's token has now expired in the stand-in
            second = pool.run([Command("Get-ServicePrincipal")])
            facts = pool.facts()
        finally:
            pool.close()
    assert first.rows and second.rows == first.rows and not second.errors
    assert facts["reconnects"] == 1 and len(issued) == 2  # one fresh token, presented once
    assert children.live_pids() == []
