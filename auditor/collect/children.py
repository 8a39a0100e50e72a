"""Child processes the auditor started (local `pwsh` sessions): always reaped, whatever ends the run.

A normal end closes each child's stdin and waits; an exception takes the same path through `finally`. For
Ctrl+C and SIGTERM, `install_signal_handlers` (called once by the CLI on the main thread) kills every live child
first and marks the run as stopping (auditor/collect/bounds.py makes every request honour it), with a watchdog
that ends the process a few seconds later if it has not ended by itself. `atexit` covers an interpreter that
exits while a child is still registered.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from types import FrameType

_lock = threading.RLock()  # re-entered when a signal arrives while the main thread holds it
_live: dict[int, subprocess.Popen[bytes]] = {}
_installed = False
_stopping = threading.Event()  # set by Ctrl+C/SIGTERM: no child may start any more


def stopping() -> bool:
    return _stopping.is_set()


def register(proc: subprocess.Popen[bytes]) -> bool:
    """Track a started child; False (and the child killed) when the run is being interrupted."""
    with _lock:
        _live[proc.pid] = proc
    if _stopping.is_set():
        kill(proc)
        return False
    return True


def live_pids() -> list[int]:
    with _lock:
        return sorted(_live)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child (its process group on POSIX, so nothing it started survives it) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)  # started with start_new_session: its own group
            else:
                proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        proc.wait(timeout=5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    with _lock:
        _live.pop(proc.pid, None)


def kill_all() -> None:
    with _lock:
        procs = list(_live.values())
    for proc in procs:
        kill(proc)


GRACE_S = 4.0  # after Ctrl+C/SIGTERM the run winds down by itself; past this the process ends regardless
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal's number (README "Exit codes")
_signal: list[int] = []


def signal_name() -> str:
    return signal.Signals(_signal[0]).name if _signal else ""


def interrupted_exit_code() -> int | None:
    """130 after SIGINT, 143 after SIGTERM; None when no signal stopped the run."""
    return EXIT_CODES.get(signal.Signals(_signal[0]), 130) if _signal else None


def wait_for_stop(seconds: float) -> bool:
    """Sleep up to `seconds`, waking at once when the run is interrupted; True if it was."""
    return _stopping.wait(seconds)


def install_signal_handlers() -> None:
    """Ctrl+C and SIGTERM stop the run instead of killing it mid-write. Main thread only; idempotent.

    The first signal kills every live child, marks the run as stopping (every request then fails at once with
    "interrupted", so what was not read becomes ERROR and the reports are still written), and starts a
    watchdog: if the process has not ended GRACE_S later, it ends there with one line. A second signal ends
    it at once. `atexit` still reaps a child registered when the interpreter exits."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    atexit.register(kill_all)
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) != signal.SIG_IGN:  # started with it ignored (nohup, `&`): it stays ignored
            signal.signal(signum, _handle)


def _handle(number: int, frame: FrameType | None) -> None:
    first = not _signal
    if first:
        _signal.append(number)
    _stopping.set()
    kill_all()
    if not first:
        _hard_exit("a second signal")
        return
    threading.Thread(target=_watchdog, name="interrupt-watchdog", daemon=True).start()


def _watchdog() -> None:
    time.sleep(GRACE_S)
    _hard_exit(f"still running {GRACE_S:g} s after it")


def _hard_exit(why: str) -> None:
    kill_all()
    with contextlib.suppress(OSError):
        os.write(2, f"auditor: interrupted: {signal_name()}, {why}; stopped without finishing\n".encode())
    os._exit(interrupted_exit_code() or 130)
