"""Every pwsh child is reaped whatever ends the run, and the token never leaves the PSRP stream."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.collect import children
from auditor.collect.allowlist import ALLOWED_CMDLETS
from auditor.collect.local_pool import check_local_powershell
from auditor.collect.local_pwsh import LocalSettings
from auditor.demo import DEMO_TENANT, running_emulator
from auditor.emulator.faults import FaultPlan
from auditor.emulator.pwsh_launcher import standin_pwsh
from tests.signals import ctrl_c_delivered

from .support import alive, child_pids, local_audit_with

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
SECRET = "not-a-real-client-secret-1234"


def _start_demo(tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AUDITOR_CLIENT_SECRET": SECRET, "AZURE_CLIENT_SECRET": SECRET}
    return subprocess.Popen(
        [sys.executable, "-c", "from auditor.cli import main; main()", "demo", "--exchange-transport", "local",
         "--faults", "pwsh=hang:Get-Mailbox", "--out", str(tmp_path / "out"), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=ctrl_c_delivered)


def _wait_for_hung_children(parent: subprocess.Popen[bytes]) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = [p for p in child_pids(parent.pid) if b"pwsh_standin" in Path(f"/proc/{p}/cmdline").read_bytes()]
        if len(pids) == 2:
            time.sleep(1.0)  # both are connected and one hangs in Get-Mailbox; the run waits on it
            return pids
        time.sleep(0.1)
    parent.kill()
    pytest.fail("the demo never started its two pwsh children")


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_auditor_leaves_no_child_behind(tmp_path: Path, signum: int, exit_code: int) -> None:
    parent = _start_demo(tmp_path)
    pids = _wait_for_hung_children(parent)
    try:
        _signal_and_check(parent, pids, signum, exit_code)
    finally:  # a failing run must not leave its processes behind either
        for pid in [parent.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait(timeout=10)


def _signal_and_check(parent: subprocess.Popen[bytes], pids: list[int], signum: int, exit_code: int) -> None:
    for pid in pids:  # nothing secret on the child's command line or in its environment
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"-s" in cmdline.split(b"\0") and b"eyJ" not in cmdline
        assert b"eyJ" not in environ and SECRET.encode() not in environ
        assert b"POWERSHELL_TELEMETRY_OPTOUT=1" in environ.split(b"\0")
    signalled = time.monotonic()
    parent.send_signal(signum)
    assert parent.wait(timeout=30) == exit_code
    assert time.monotonic() - signalled < 5  # the run winds down by itself; the watchdog ends it at the latest
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if alive(pid)] == []


def test_the_stand_in_config_holds_no_token() -> None:
    with running_emulator(DEMO_TENANT, FaultPlan()) as server:
        launcher = standin_pwsh(server)
        config = (launcher.parent / "standin.json").read_text()
        assert "eyJ" not in config  # the verification key, never a token
        assert oct((launcher.parent / "standin.json").stat().st_mode & 0o777) == "0o600"


def test_the_preflight_check_reports_what_it_found(tmp_path: Path) -> None:
    with running_emulator(DEMO_TENANT, FaultPlan()) as server:
        good = check_local_powershell(LocalSettings(pwsh_path=str(standin_pwsh(server)), operation_timeout_s=20))
        old = check_local_powershell(LocalSettings(pwsh_path=str(standin_pwsh(server, ["module:3.0.0"],
                                                                              tmp_path)), operation_timeout_s=20))
    missing = check_local_powershell(LocalSettings(pwsh_path="no-such-pwsh-here"))
    assert good.ok and good.powershell_version == "7.4.6" and good.module_version == "3.9.0"
    assert good.message.endswith("pwsh: PowerShell 7.4.6, ExchangeOnlineManagement 3.9.0")
    assert not old.ok and old.powershell_version == "7.4.6" and "Install-Module ExchangeOnlineManagement" in old.message
    assert not missing.ok and missing.message.startswith("PowerShell 7 (no-such-pwsh-here) was not found on PATH")
    assert children.live_pids() == []


def test_only_the_module_import_the_sign_in_and_reads_reach_pwsh(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """What the stand-in received, command by command, over a whole audit with every logger at DEBUG."""
    log = tmp_path / "commands.txt"
    with caplog.at_level(logging.DEBUG):
        snapshot, tokens = local_audit_with(lambda server: standin_pwsh(server, [], tmp_path / "d", log))
    received = log.read_text().splitlines()
    assert sorted(received[:4]) == ["Connect-ExchangeOnline -AccessToken -Organization -ShowBanner"] * 2 + [
        "Import-Module -Name -MinimumVersion -PassThru"] * 2  # each child: the module, the sign-in, then reads
    assert received.count("Import-Module -Name -MinimumVersion -PassThru") == 2
    reads = {line.split()[0] for line in received[4:]}
    assert reads <= set(ALLOWED_CMDLETS) and all(name.startswith(("Get-", "Test-")) for name in reads)
    assert all(s.status.value == "ok" for n, s in snapshot.sections.items() if n.startswith("exchange."))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert tokens and not any(token in logged for token in tokens)
