"""The same tenant audited over PSRP and over REST gives the same evidence and the same findings.

The demo emulator serves both transports from one cmdlet layer, with its clock pinned, so two audits of one
emulator differ only in how Exchange was reached; the run facts say which.
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

# Half a day behind the wall clock: relative dates ("now+300d") then sit mid-day from both runs' collected_at,
# so "days left" cannot tip over between two runs a few seconds apart.
CLOCK = (datetime.now(UTC) - timedelta(hours=12)).replace(microsecond=0)


def _audit(tenant: Path, base: Baseline, out: Path) -> dict[str, dict[str, Any]]:
    """Both transports against one emulator: {transport: {"snapshot": ..., "findings": ..., "html": ...}}."""
    runs: dict[str, dict[str, Any]] = {}
    with running_emulator(tenant, now=CLOCK) as server:
        for transport in ("psrp", "rest"):
            aimed = emulator_baseline(_with_transport(base, transport), server)
            snapshot = collect(aimed, emulator_settings(server), read_exchange)
            evaluate_and_report(snapshot, aimed, out / transport, ["json", "html"])
            runs[transport] = {"snapshot": snapshot,
                               "findings": json.loads((out / transport / "findings.json").read_text()),
                               "html": (out / transport / "report.html").read_text()}
    return runs


def _with_transport(base: Baseline, transport: str) -> Baseline:
    return dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, transport=transport))


def _exchange_sections(snapshot: Snapshot) -> dict[str, Any]:
    doc = json.loads(snapshot.to_json())["sections"]
    return {name: section for name, section in doc.items() if not name.startswith("graph.")}


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _audit(DEMO_TENANT, load_baseline(DEMO_BASELINE), tmp_path_factory.mktemp("parity"))


def test_demo_tenant_gives_identical_findings_over_psrp_and_rest(demo_runs: dict[str, dict[str, Any]]) -> None:
    psrp, rest = demo_runs["psrp"]["findings"], demo_runs["rest"]["findings"]
    assert len(psrp["findings"]) > 150
    assert rest["findings"] == psrp["findings"]
    assert rest["summary"] == psrp["summary"]
    assert not [f for f in rest["findings"] if f["status"] == "ERROR"]


def test_demo_tenant_gives_identical_exchange_evidence(demo_runs: dict[str, dict[str, Any]]) -> None:
    psrp, rest = (_exchange_sections(demo_runs[t]["snapshot"]) for t in ("psrp", "rest"))
    assert rest == psrp
    assert all(section["status"] == "ok" for section in rest.values())


def test_run_facts_and_report_header_name_the_transport(demo_runs: dict[str, dict[str, Any]]) -> None:
    for transport in ("psrp", "rest"):
        collection = demo_runs[transport]["snapshot"].collection
        assert collection["exchange_transport"] == transport
        assert collection["exchange"]["transport"] == transport
        assert demo_runs[transport]["findings"]["run"]["collection"]["exchange_transport"] == transport
        assert f"Exchange transport</dt><dd>{transport}</dd>" in demo_runs[transport]["html"]
    rest = demo_runs["rest"]["snapshot"].collection["exchange"]
    tenant_id = demo_runs["rest"]["snapshot"].tenant_id
    assert rest["experimental"] is True and rest["endpoint"].endswith(f"/adminapi/beta/{tenant_id}/InvokeCommand")
    # One request per cmdlet call, plus the token check when the pool opens; no batching over REST.
    assert rest["round_trips"] == rest["statements"] == sum(rest["pipelines_by_cmdlet"].values()) + 1
    assert rest["test_batch_size"] == 1


def test_generated_tenant_gives_identical_findings(tmp_path: Path) -> None:
    """A synthetic tenant (2,100 mailboxes: the canary pool spans three pages of 1,000) judged both ways."""
    generated = generate(Sizes(service_principals=60, mailboxes=2100, integrations=5, seed=3))
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps(generated.tenant))
    (tmp_path / "baseline.toml").write_text(generated.baseline)
    runs = _audit(tenant, load_baseline(tmp_path / "baseline.toml"), tmp_path)
    psrp, rest = runs["psrp"], runs["rest"]
    assert _exchange_sections(rest["snapshot"]) == _exchange_sections(psrp["snapshot"])
    assert rest["findings"]["findings"] == psrp["findings"]["findings"]
    assert rest["snapshot"].collection["exchange"]["canary_pool_size"] > 2000
    statuses = {f["status"] for f in rest["findings"]["findings"]}
    assert {"PASS", "FAIL"} <= statuses and "ERROR" not in statuses


def test_demo_command_takes_the_transport(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--exchange-transport", "rest", "--out", str(tmp_path), "--quiet"])
    assert exc.value.code == 1  # the demo tenant has drifted on purpose; nothing is ERROR
    snapshot = json.loads((tmp_path / "snapshot.json").read_text())
    assert snapshot["collection"]["exchange_transport"] == "rest"
    assert snapshot["collection"]["exchange"]["pipelines_by_cmdlet"]["Test-ApplicationAccessPolicy"] > 1
    assert "Exchange transport</dt><dd>rest</dd>" in (tmp_path / "report.html").read_text()
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--exchange-transport", "winrm", "--out", str(tmp_path / "x"), "--quiet"])
    assert exc.value.code == 2
