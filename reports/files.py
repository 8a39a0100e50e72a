"""Atomic file writes: a report is either complete or absent, never half-written, and no temporary file is
left behind by an error or by SIGTERM/SIGINT (a SIGKILL's leftovers are removed by the next run into the same
place, reports/output_set.py). Folders the auditor creates are owner-only (0700) whatever the umask."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from auditor.errors import OutputError

OWNER_ONLY_DIR = 0o700


def make_private_dirs(path: Path) -> None:
    """`path` and every missing parent, created 0700 (a umask can only take bits away, never add them)."""
    missing: list[Path] = []
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another run made it meanwhile
            folder.mkdir(mode=OWNER_ONLY_DIR)


def write_atomic(path: Path, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    made: list[str] = []
    # The guard first: a signal between making the temporary file and guarding it would leave it behind.
    def remove_made() -> None:
        for name in made:
            Path(name).unlink(missing_ok=True)

    with removed_on_signal(path, remove_made):
        try:
            make_private_dirs(path.parent)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            made.append(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            remove_made()
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        except BaseException:
            remove_made()
            raise


def output_file(path: Path) -> Path:
    """Where a one-file output (`collect --out`, `diff --out`) goes, checked before the work: the folder it lands
    in exists and takes files, or can be created (it is, 0700, when the file is written)."""
    try:
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(parent))
        fd, probe = tempfile.mkstemp(prefix=".auditor-probe-", suffix=".tmp", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there: {exc.strerror or exc}") from None
    return path


def remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def removed_on_signal(path: Path, remove: Any = None) -> Iterator[None]:
    """While the block runs, SIGTERM or SIGINT first removes `path` (a temporary file or staging folder), then
    does what it did before (the run's own handler, or ending the process). Main thread only: elsewhere the
    next run removes what a signal left."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    cleanup = remove or (lambda: remove_tree(path) if path.is_dir() else path.unlink(missing_ok=True))
    signums = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.getsignal(s) for s in signums}

    def handle(number: int, frame: FrameType | None) -> None:
        cleanup()
        before = previous[signal.Signals(number)]
        if callable(before):
            before(number, frame)
        elif before != signal.SIG_IGN:  # the default action: end the process as the signal would have
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)

    for s in signums:
        signal.signal(s, handle)
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before)
