"""`auditor audit` against a running emulator is the same path as `auditor demo`: same findings."""

from __future__ import annotations

import json
import re

import pytest

from auditor.cli import main
from auditor.collect.exchange_reader import read_exchange
from auditor.collect.run import collect
from auditor.demo import (
    DEMO_BASELINE,
    DEMO_TENANT,
    baseline_toml,
    emulator_baseline,
    emulator_settings,
    running_emulator,
)
from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from tests.faults.conftest import REALISTIC


def _identities(findings) -> list[tuple[str, str, str, str]]:
    return sorted((f["check_id"], f["integration"], f["resource"], f["status"]) for f in findings)


@pytest.mark.parametrize("realism", [None, REALISTIC], ids=["default", "realistic"])
def test_audit_against_a_running_emulator_matches_the_demo_path(tmp_path, monkeypatch, capsys, realism):
    tenant = json.loads(DEMO_TENANT.read_text())
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", tenant["emulator"]["clients"][0]["secret"])
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", tenant["emulator"]["jumpHost"]["password"])
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    with running_emulator(DEMO_TENANT, realism=realism) as server:
        intent = re.sub(r"(?ms)^\[tenant\].*?(?=^\[)", "", DEMO_BASELINE.read_text())
        baseline_file = tmp_path / "emulator.toml"
        baseline_file.write_text(baseline_toml(server) + "\n" + intent)
        with pytest.raises(SystemExit) as exc:
            main(["audit", "--baseline", str(baseline_file), "--out", str(tmp_path / "audit"), "--quiet"])
        demo_base = emulator_baseline(load_baseline(DEMO_BASELINE), server)
        demo = evaluate(collect(demo_base, emulator_settings(server), read_exchange), demo_base)
    assert exc.value.code == 1, capsys.readouterr().err
    audited = json.loads((tmp_path / "audit" / "findings.json").read_text())["findings"]
    assert _identities(audited) == _identities([f.to_dict() for f in demo.findings])
    assert not [f for f in audited if f["status"] == "ERROR"]


def test_audit_without_a_secret_is_a_clear_configuration_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AUDITOR_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    baseline = tmp_path / "b.toml"
    baseline.write_text('[tenant]\nid = "11111111-2222-3333-4444-555555555555"\ndomain = "x.onmicrosoft.com"\n'
                        '[auth]\nclient_id = "11111111-2222-3333-4444-555555555555"\n[exchange]\ntransport = "none"\n')
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--baseline", str(baseline), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert len(err.strip().splitlines()) == 1 and "AUDITOR_CLIENT_SECRET" in err
    assert not (tmp_path / "out").exists()
