"""A run's files (snapshot.json, the reports, manifest.json) land in --out as one set.

The set is written into a staging folder beside --out (`.NAME.auditor-PID-XXXX`, 0700) and swapped with --out
in one atomic step (Linux renameat2 RENAME_EXCHANGE), so --out always holds one whole set: the previous one or
this one, whatever kills the process and however many runs write into it at once. The previous set is then
removed. Because the folder itself is swapped, an --out that holds anything the auditor did not write is
refused before the work (one line, exit 2): nothing of the user's is ever swapped away. A file of the same run
that this set does not rewrite (snapshot.json when `auditor report` re-renders findings.json) is kept. Where
the exchange is not available (another OS, a file system without it) the files are replaced one by one, each
still atomic. docs/decisions.md, "Outputs".
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from auditor.errors import OutputError
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import make_private_dirs, removed_on_signal

MANIFEST = "manifest.json"
OWN_FILES = frozenset({"snapshot.json", *FILE_NAMES.values(), MANIFEST})
"""What the auditor writes into --out: the only entries an --out may hold."""
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def out_folder(out: Path) -> Path:
    return Path(os.path.realpath(out))


def check_out_dir(out: Path, own_only: bool = True) -> Path:
    """Before the work: --out is a folder the auditor can write a set into, or one it can create (0700, when the
    set is written: a refused run leaves nothing); with `own_only`, holding nothing but the auditor's own
    files. One clear OutputError (exit 2) otherwise."""
    folder = out_folder(out)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{out}: --out names a file; it must be a folder (new, or one an earlier run wrote)")
    if Path(os.path.realpath(os.getcwd())).is_relative_to(folder):
        raise OutputError(f"{out}: --out cannot be the current folder or one above it, since a run replaces it "
                          "whole: name a folder for the reports")
    try:
        if not folder.exists():
            _probe_creatable(folder)
            return folder
        if own_only:
            foreign = sorted(entry.name for entry in folder.iterdir() if not _ours(entry.name))
            if foreign:
                more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
                raise OutputError(f"{out}: holds files the auditor did not write ({', '.join(foreign[:3])}{more}); "
                                  "--out must be a new folder or one an earlier run wrote, since a run replaces "
                                  "it whole")
        probe = tempfile.mkdtemp(prefix=f".{folder.name}.probe-", dir=folder.parent)
        os.rmdir(probe)
        fd, name = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        Path(name).unlink(missing_ok=True)  # a run swapping its set in meanwhile takes it away with the old one
    except OSError as exc:
        raise OutputError(f"{out}: cannot write there: {exc.strerror or exc}") from None
    return folder


def _probe_creatable(folder: Path) -> None:
    """The nearest existing parent is a folder this process can create folders in."""
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
    os.rmdir(tempfile.mkdtemp(prefix=".auditor-probe-", dir=parent))


class OutputSet:
    """`with OutputSet(out, run) as staged:` write into `staged.path`, then `staged.publish()`; an error or
    a signal before then leaves --out as it was and no temporary file behind."""

    def __init__(self, out: Path, run: str) -> None:
        self.out = out_folder(out)
        self.run = run
        self.path = self.out
        self._signals: object = None

    def __enter__(self) -> OutputSet:
        check_out_dir(self.out)
        _remove_stale(self.out)
        # The guard first: a signal between making the staging folder and guarding it would leave it behind.
        guard = removed_on_signal(self.out, self._discard_staging)
        guard.__enter__()
        self._signals = guard
        try:
            make_private_dirs(self.out)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.auditor-{os.getpid()}-", dir=self.out.parent))
        except OSError as exc:
            guard.__exit__(None, None, None)
            raise OutputError(f"{self.out}: cannot write there: {exc.strerror or exc}") from None
        return self

    def _discard_staging(self) -> None:
        if self.path != self.out:
            _discard(self.path, self.out)

    def publish(self) -> None:
        from auditor.pause import pause_at

        try:
            self._carry_over()
            names = sorted(p.name for p in self.path.iterdir() if p.name != MANIFEST)
            manifest = {"tool": "mailbox-auditor", "run": self.run, "files": names}
            (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            os.chmod(self.path / MANIFEST, 0o600)
            if self.out.exists():  # keep the folder's mode, never group- or world-writable
                os.chmod(self.path, self.out.stat().st_mode & 0o755)
            pause_at("staged")
            self._swap()
        except OSError as exc:
            raise OutputError(f"{self.out}: cannot write there: {exc.strerror or exc}") from None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._discard_staging()
        self._signals.__exit__(kind, exc, tb)  # type: ignore[attr-defined]

    def _carry_over(self) -> None:
        """Files of the same run that this set does not rewrite stay (hard links: nothing is copied)."""
        if _old_run(self.out) != self.run:
            return
        for name in OWN_FILES - {MANIFEST}:
            source, target = self.out / name, self.path / name
            if source.is_file() and not target.exists():
                try:
                    os.link(source, target)
                except OSError:  # a file system without hard links (or a file we do not own): a copy will do
                    shutil.copyfile(source, target)

    def _swap(self) -> None:
        try:
            _exchange(self.path, self.out)
        except FileNotFoundError:
            os.rename(self.path, self.out)  # --out went away meanwhile: this set simply takes its place
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV):
                raise
            self._replace_each()
            return
        # The previous set is now in the staging folder; anything foreign that appeared since the check goes back.
        for entry in self.path.iterdir():
            if not _ours(entry.name):
                os.rename(entry, self.out / entry.name)

    def _replace_each(self) -> None:
        names = {p.name for p in self.path.iterdir()}
        for name in [*sorted(names - {MANIFEST}), MANIFEST]:
            os.replace(self.path / name, self.out / name)
        for name in OWN_FILES - names:
            (self.out / name).unlink(missing_ok=True)


def _old_run(out: Path) -> str | None:
    """Which run the files in --out belong to: its manifest.json says; a folder an older auditor wrote has none,
    so findings.json's run, else snapshot.json's (tenant id and collection time, as `run_key` in pipeline)."""
    readers = ((MANIFEST, lambda d: d["run"]),
               ("findings.json", lambda d: f"{d['run']['tenant']['id']}|{d['run']['collected_at']}"),
               ("snapshot.json", lambda d: f"{d['tenant']['id']}|{d['collected_at']}"))
    for name, key in readers:
        try:
            return str(key(json.loads((out / name).read_text(encoding="utf-8"))))
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None
    return None


def _ours(name: str) -> bool:
    return name in OWN_FILES or (name.startswith(".") and name.endswith(".tmp"))


def _exchange(a: Path, b: Path) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        raise OSError(errno.ENOSYS, "renameat2 is not available") from None
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(b))


def _discard(folder: Path, out: Path) -> None:
    """Remove a staging folder: the auditor's files and temporaries only; anything else goes back to --out."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        try:
            if _ours(entry.name) and not entry.is_dir():
                entry.unlink()
            elif not (out / entry.name).exists():
                os.rename(entry, out / entry.name)
        except OSError:
            pass
    with contextlib.suppress(OSError):
        folder.rmdir()


def _remove_stale(out: Path) -> None:
    """Staging folders left by a run that was killed (SIGKILL) before it could remove its own."""
    prefix = f".{out.name}.auditor-"
    try:
        siblings = [p for p in out.parent.iterdir() if p.name.startswith(prefix) and p.is_dir()]
    except OSError:
        return
    for folder in siblings:
        pid = folder.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _discard(folder, out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
