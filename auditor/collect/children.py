"""Child processes the auditor started (local `pwsh` sessions): always reaped, whatever ends the run.

A normal end closes each child's stdin and waits; an exception takes the same path through `finally`. For
Ctrl+C and SIGTERM, `install_signal_handlers` (called once by the CLI on the main thread) kills every live child
first and then lets the signal do what it did before: Ctrl+C still raises KeyboardInterrupt, SIGTERM still
ends the process. `atexit` covers an interpreter that exits while a child is still registered.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
from types import FrameType
from typing import Any

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


def install_signal_handlers() -> None:
    """Kill the children on SIGINT/SIGTERM before the previous handler runs. Main thread only; idempotent."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    atexit.register(kill_all)
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        signal.signal(signum, _handler(signum, previous))


def _handler(signum: int, previous: Any) -> Any:
    def handle(number: int, frame: FrameType | None) -> None:
        _stopping.set()
        kill_all()
        if callable(previous):
            previous(number, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # the default action: end the process as the signal would have
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
    return handle
