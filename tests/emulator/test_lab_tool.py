"""`auditor emulator` as a lab tool: a state directory keeps the CA, keys and port across restarts; SIGTERM stops
it as Ctrl+C does; no private key outlives it in a temporary directory; a bad --port is one line and exit 2."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.badinput.conftest import run_cli


@contextmanager
def served(tmp: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """`auditor emulator ARGS` in a child process whose temporary files go to `tmp`; yields it once it serves,
    with the endpoints it printed."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-c", "from auditor.cli import main; main()", "emulator", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        printed: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("# ") and ":" in line:
                key, _, value = line[2:].partition(":")
                printed[key.strip()] = value.strip()
            if line.startswith("# Add your [[integration]]"):
                break
        assert "CA certificate" in printed, proc.stderr.read() if proc.stderr else ""
        assert proc.stderr is not None and proc.stderr.readline().startswith("# serving")
        yield proc, printed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_emulator_and_no_private_key_is_left_behind(tmp_path: Path, sig: signal.Signals) -> None:
    with served(tmp_path) as (proc, printed):
        folder = Path(printed["CA certificate"]).parent
        assert folder.parent == tmp_path and (folder / "server-key.pem").exists()
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=20) == 0
        assert "# stopped" in (proc.stderr.read() if proc.stderr else "")
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_state_directory_keeps_the_ca_keys_and_port_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    with served(tmp_path, "--state-dir", str(state)) as (proc, first):
        ca = Path(first["CA certificate"])
        assert ca.parent == state
        ca_pem = ca.read_bytes()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for key in ("ca-key.pem", "server-key.pem"):
        assert stat.S_IMODE((state / key).stat().st_mode) == 0o600, key
    with served(tmp_path, "--state-dir", str(state)) as (proc, second):
        assert second["Graph"] == first["Graph"]  # same port
        assert Path(second["CA certificate"]).read_bytes() == ca_pem  # same CA: the baseline's ca_bundle holds
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert (state / "ca-key.pem").exists() and list(tmp_path.iterdir()) == [state]


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_one_line_and_exit_2(port: str) -> None:
    code, out, err = run_cli("emulator", "--port", port)
    assert code == 2 and out == "" and err.strip().splitlines() == [
        f"auditor: error: --port {port}: must be 1 to 65535 (or 0: any free port)"], err


def test_a_port_in_use_is_one_line_and_exit_2_and_leaves_no_ca(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_cli("emulator", "--port", str(port))
    assert code == 2 and out == "", err
    assert err.strip().splitlines() == [f"auditor: error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert list(tmp_path.iterdir()) == []
