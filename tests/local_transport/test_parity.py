"""The same tenant audited over psrp, rest and local gives the same evidence and the same findings.

One emulator serves all three from one cmdlet layer (the local transport through its `pwsh` stand-in, a child
process per pool that verifies the emulator's tokens), with its clock pinned.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.collect.exchange_reader import read_exchange
from auditor.collect.run import collect
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.models.baseline import Baseline, load_baseline
from auditor.models.snapshot import Snapshot
from auditor.pipeline import evaluate_and_report
from benchmarks.generate import Sizes, generate

CLOCK = (datetime.now(UTC) - timedelta(hours=12)).replace(microsecond=0)
TRANSPORTS = ("psrp", "rest", "local")


def _audit(tenant: Path, base: Baseline, out: Path, transports: tuple[str, ...] = TRANSPORTS
           ) -> dict[str, dict[str, Any]]:
    runs: dict[str, dict[str, Any]] = {}
    with running_emulator(tenant, now=CLOCK) as server:
        for transport in transports:
            aimed = emulator_baseline(dataclasses.replace(
                base, exchange=dataclasses.replace(base.exchange, transport=transport)), server)
            snapshot = collect(aimed, emulator_settings(server), read_exchange)
            evaluate_and_report(snapshot, aimed, out / transport, ["json", "html"])
            runs[transport] = {"snapshot": snapshot,
                               "findings": json.loads((out / transport / "findings.json").read_text()),
                               "html": (out / transport / "report.html").read_text()}
    return runs


def _exchange_sections(snapshot: Snapshot) -> dict[str, Any]:
    doc = json.loads(snapshot.to_json())["sections"]
    return {name: section for name, section in doc.items() if not name.startswith("graph.")}


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _audit(DEMO_TENANT, load_baseline(DEMO_BASELINE), tmp_path_factory.mktemp("parity3"))


def test_demo_tenant_gives_identical_findings_over_the_three_transports(demo_runs: dict[str, Any]) -> None:
    psrp = demo_runs["psrp"]["findings"]
    assert len(psrp["findings"]) > 150
    for transport in ("rest", "local"):
        assert demo_runs[transport]["findings"]["findings"] == psrp["findings"], transport
        assert demo_runs[transport]["findings"]["summary"] == psrp["summary"], transport
    assert not [f for f in demo_runs["local"]["findings"]["findings"] if f["status"] == "ERROR"]


def test_demo_tenant_gives_identical_exchange_evidence_over_local(demo_runs: dict[str, Any]) -> None:
    psrp, local = (_exchange_sections(demo_runs[t]["snapshot"]) for t in ("psrp", "local"))
    assert local == psrp
    assert all(section["status"] == "ok" for section in local.values())


def test_run_facts_name_the_local_transport_and_what_it_found(demo_runs: dict[str, Any]) -> None:
    collection = demo_runs["local"]["snapshot"].collection
    assert collection["exchange_transport"] == "local"
    facts = collection["exchange"]
    assert facts["transport"] == "local" and facts["pools"] == 2
    assert facts["powershell_version"] == "7.4.6" and facts["module_version"] == "3.9.0"
    # Statements are batched over local as over psrp (one pipeline carries many look-ups).
    psrp = demo_runs["psrp"]["snapshot"].collection["exchange"]
    assert facts["pipelines_by_cmdlet"] == psrp["pipelines_by_cmdlet"]
    assert "Exchange transport</dt><dd>local</dd>" in demo_runs["local"]["html"]


def test_generated_tenant_gives_identical_findings_over_local(tmp_path: Path) -> None:
    """2,100 mailboxes: the canary pool's listing spans many 32 KiB fragments of the out-of-process framing.
    (REST against PSRP on this tenant is tests/rest_transport/test_parity.py.)"""
    generated = generate(Sizes(service_principals=60, mailboxes=2100, integrations=5, seed=3))
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps(generated.tenant))
    (tmp_path / "baseline.toml").write_text(generated.baseline)
    runs = _audit(tenant, load_baseline(tmp_path / "baseline.toml"), tmp_path, ("psrp", "local"))
    assert _exchange_sections(runs["local"]["snapshot"]) == _exchange_sections(runs["psrp"]["snapshot"])
    assert runs["local"]["findings"]["findings"] == runs["psrp"]["findings"]["findings"]
    assert runs["local"]["snapshot"].collection["exchange"]["canary_pool_size"] > 2000
    statuses = {f["status"] for f in runs["local"]["findings"]["findings"]}
    assert {"PASS", "FAIL"} <= statuses and "ERROR" not in statuses


def test_demo_command_takes_the_local_transport(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--exchange-transport", "local", "--out", str(tmp_path), "--quiet"])
    assert exc.value.code == 1  # the demo tenant has drifted on purpose; nothing is ERROR
    snapshot = json.loads((tmp_path / "snapshot.json").read_text())
    assert snapshot["collection"]["exchange_transport"] == "local"
    assert snapshot["collection"]["exchange"]["pipelines_by_cmdlet"]["Test-ApplicationAccessPolicy"] >= 1
