"""`--faults` as a user meets it: documented key by key, refused with one line when wrong, and working on
`auditor emulator` (served in a child process, audited with `auditor audit`) as on `auditor demo`."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.demo import DEMO_BASELINE, DEMO_TENANT
from auditor.emulator.faults import FaultPlan

from .conftest import REPORTS, run_cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def documented_keys() -> list[str]:
    section = DOC.read_text(encoding="utf-8").split("## Faults", 1)[1]
    return re.findall(r"^\| `([a-z_]+)=", section, flags=re.MULTILINE)


def test_every_fault_key_is_documented_once_and_nothing_else() -> None:
    keys = documented_keys()
    assert sorted(keys) == sorted(f.name for f in dataclasses.fields(FaultPlan))
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("command", "spec", "needle"), [
    ("demo", "throttle=5", "unknown key 'throttle'"),
    ("demo", "error_rate=2", "bad value for 'error_rate'"),
    ("demo", "seed", "key 'seed' needs a value"),
    ("emulator", "graph_down=maybe", "bad value for 'graph_down'"),
    ("emulator", "latency_ms=-5", "bad value for 'latency_ms'"),
])
def test_a_bad_fault_spec_is_one_line_and_exit_2(tmp_path: Path, command: str, spec: str, needle: str) -> None:
    out = tmp_path / "out"
    extra = ["--out", str(out)] if command == "demo" else []
    code, stdout, err = run_cli(command, "--faults", spec, *extra)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
    assert not out.exists() and stdout == ""


@pytest.fixture
def served_emulator() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`auditor emulator --faults ...` in a child process, as a user would leave it running in a terminal."""
    spec = "throttle_every=3,retry_after_s=0.01,psrp_fail=Get-ServicePrincipal"
    proc = subprocess.Popen([sys.executable, "-c", "from auditor.cli import main; main()", "emulator", "--faults",
                             spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("# Add your [[integration]]"):
                break
        assert printed and printed[-1].startswith("# Add your"), "".join(printed) + proc.stderr.read()
        yield "".join(printed), proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_faults_on_the_served_emulator_reach_a_live_audit(tmp_path: Path, served_emulator, monkeypatch,
                                                          fast_waits) -> None:
    printed, _ = served_emulator
    intent = DEMO_BASELINE.read_text(encoding="utf-8").split("[policy]", 1)[1]  # keep the emulator's [tenant]
    baseline = tmp_path / "emulator.toml"
    baseline.write_text(printed + "\n[policy]" + intent, encoding="utf-8")
    tenant = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", tenant["emulator"]["clients"][0]["secret"])
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", tenant["emulator"]["jumpHost"]["password"])
    out = tmp_path / "out"
    code, _, err = run_cli("audit", "--baseline", str(baseline), "--out", str(out), "--quiet", "--no-history")
    assert code == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: collection failed (exchange.servicePrincipals)"), err
    snapshot = json.loads((out / "snapshot.json").read_text(encoding="utf-8"))
    graph = {name: s["status"] for name, s in snapshot["sections"].items() if name.startswith("graph.")}
    assert set(graph.values()) == {"ok"}  # throttled, and recovered
    assert snapshot["collection"]["graph_retry_wait_s"] > 0  # Retry-After was waited for
    principals = snapshot["sections"]["exchange.servicePrincipals"]
    assert principals["status"] == "error" and "Get-ServicePrincipal" in principals["error"]
    for name in REPORTS:
        assert (out / name).stat().st_size > 0
    assert os.environ["AUDITOR_CLIENT_SECRET"] not in (out / "snapshot.json").read_text(encoding="utf-8")


def test_outside_pytest_a_refused_sign_in_prints_one_clear_line(tmp_path: Path) -> None:
    """In a real process no logging handler is installed by a test runner: a quiet run must still print only
    its own lines (Python's last-resort handler would add the log record, unredacted, as a second line)."""
    done = subprocess.run([sys.executable, "-c", "from auditor.cli import main; main()", "demo", "--faults",
                           "token_error=7000222", "--out", str(tmp_path / "out"), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: collection failed (") and "AADSTS7000222" in lines[0]
    assert "the client secret has expired" in lines[0]
