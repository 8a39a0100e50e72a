"""Ctrl+C and SIGTERM end a run within seconds: one line, the documented exit code, the reports still written.

`auditor demo` runs in a subprocess against its in-process emulator with 300 ms of latency on every answer, so
it is mid-collection when the signal arrives; the clock starts at the signal, the PID says when it ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.signals import ctrl_c_delivered

from .conftest import FIGURES

LIMIT_S = 5.0  # issue 18: "SIGINT ends any run within 5 s"
CLI = [sys.executable, "-c", "from auditor.cli import main; main()"]


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def _descendants(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_ends_it_within_seconds_with_one_line_and_the_reports(
        tmp_path: Path, signum: int, code: int) -> None:
    out = tmp_path / "out"
    run = subprocess.Popen([*CLI, "demo", "--faults", "latency_ms=300", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ctrl_c_delivered,
                           env={**os.environ, "AUDITOR_CLIENT_SECRET": "unused-by-the-demo"})
    try:
        time.sleep(4.0)  # started, signed in, reading Graph and Exchange (a full run takes far longer)
        assert run.poll() is None, "the demo ended before the signal: raise the latency"
        children = _descendants(run.pid)
        signalled = time.monotonic()
        run.send_signal(signum)
        while _alive(run.pid) and time.monotonic() - signalled < 30:
            time.sleep(0.02)
        seconds = time.monotonic() - signalled
        _, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=10)
    text = err.decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.startswith("auditor: interrupted")]
    held = seconds < LIMIT_S and run.returncode == code and len(lines) == 1
    FIGURES["hostile_cases"] += 1
    FIGURES["hostile_held"] += held
    assert run.returncode == code, text
    assert seconds < LIMIT_S
    assert lines == [f"auditor: interrupted: {signal.Signals(signum).name}; the run stopped early (what was not "
                     "read is ERROR; reports, if any, were written)"]
    assert "Traceback" not in text and "internal error" not in text
    assert [pid for pid in children if _alive(pid)] == []
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))["findings"]
    assert any(f["status"] == "ERROR" and "interrupted" in json.dumps(f) for f in findings)
    assert (out / "report.html").exists()
