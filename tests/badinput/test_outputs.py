"""Destinations checked before the work: an --out that is a file, read-only, under a read-only folder, in
/proc, or full of someone else's files is one line and exit 2 before any collection, for every command that
writes; an OS error while writing (a full disk) is one line and exit 2 too, never a traceback after the audit.
`collect --out DIR` and `diff --out DIR` write their file into the folder."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import auditor.commands.live as live_module
from samples import SAMPLES_DIR

from .conftest import judge, run_cli, workspace
from .test_edges import starter_with

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
BASELINE = SAMPLES_DIR / "baselines" / "sample.toml"


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Read-only even for root (chattr +i), else by mode bits."""
    if os.geteuid() == 0:
        if not shutil.which("chattr"):
            pytest.skip("root without chattr: cannot make a folder read-only")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode:
            pytest.skip(f"chattr +i: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(0o555)
    try:
        yield
    finally:
        path.chmod(mode)


@contextlib.contextmanager
def destination(kind: str, folder: Path) -> Iterator[tuple[Path, str]]:
    """(the --out to give, words the one line must hold)."""
    if kind == "a file":
        taken = folder / "taken"
        taken.write_text("keep me\n", encoding="utf-8")
        yield taken, "names a file"
        assert taken.read_text(encoding="utf-8") == "keep me\n"
    elif kind == "a read-only folder":
        (folder / "ro").mkdir()
        with immutable(folder / "ro"):
            yield folder / "ro", "cannot write there"
    elif kind == "under a read-only folder":
        (folder / "ro").mkdir()
        with immutable(folder / "ro"):
            yield folder / "ro" / "out", "cannot write there"
    elif kind == "/proc":
        yield Path("/proc/self/auditor-out"), "cannot write there"
    else:  # someone else's files
        (folder / "mine").mkdir()
        (folder / "mine" / "thesis.tex").write_text("keep me\n", encoding="utf-8")
        yield folder / "mine", "did not write (thesis.tex)"
        assert (folder / "mine" / "thesis.tex").read_text(encoding="utf-8") == "keep me\n"


KINDS = ["a file", "a read-only folder", "under a read-only folder", "/proc", "a folder of other files"]


def no_collection(*args: object, **kwargs: object) -> None:
    raise AssertionError("collection started before --out was checked")


def refused_before_the_work(code: int, out: str, err: str, naming: str) -> None:
    judge("output", code, out, err, Path("/nonexistent"), ())
    assert code == 2 and naming in err, (code, err)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["demo", "audit"])
def test_a_bad_out_stops_a_run_before_collection(command, kind, monkeypatch):
    monkeypatch.setattr(live_module, "collect_run", no_collection)
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", "not-used-secret")
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", "not-used-password")
    with workspace() as folder, destination(kind, folder) as (out, naming):
        if command == "demo":
            args = ["demo", "--out", str(out), "--quiet"]
        else:
            (folder / "b.toml").write_text(starter_with("exchange.pools", "4"), encoding="utf-8")
            args = ["audit", "--baseline", str(folder / "b.toml"), "--out", str(out), "--no-history", "--quiet"]
        refused_before_the_work(*run_cli(*args), naming)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_a_bad_out_is_refused_by_the_offline_commands(command, kind):
    with workspace() as folder:
        findings = folder / "in" / "findings.json"
        assert run_cli("evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(findings.parent),
                       "--format", "json")[0] == 1
        with destination(kind, folder) as (out, naming):
            args = (["evaluate", str(SNAPSHOT), "--baseline", str(BASELINE)] if command == "evaluate"
                    else ["report", str(findings)])
            refused_before_the_work(*run_cli(*args, "--out", str(out)), naming)


@pytest.mark.parametrize("kind", ["a read-only folder", "under a read-only folder", "/proc"])
@pytest.mark.parametrize("command", ["collect", "diff"])
def test_a_bad_file_destination_is_refused_before_the_work(command, kind, monkeypatch):
    monkeypatch.setattr(live_module, "collect_run", no_collection)
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", "not-used-secret")
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", "not-used-password")
    with workspace() as folder:
        findings = folder / "in" / "findings.json"
        run_cli("evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(findings.parent), "-f", "json")
        (folder / "b.toml").write_text(starter_with("exchange.pools", "4"), encoding="utf-8")
        with destination(kind, folder) as (out, naming):
            target = out / "result.json"
            args = (["collect", "--baseline", str(folder / "b.toml"), "--out", str(target), "--quiet"]
                    if command == "collect" else ["diff", str(findings), str(findings), "--out", str(target)])
            refused_before_the_work(*run_cli(*args), naming)


def test_diff_into_a_folder_writes_diff_json_there():
    with workspace() as folder:
        run_cli("evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(folder / "in"), "-f", "json")
        (folder / "reports").mkdir()
        code, out, err = run_cli("diff", str(folder / "in" / "findings.json"), str(folder / "in" / "findings.json"),
                                 "--out", str(folder / "reports"))
        assert code == 0, err
        assert json.loads((folder / "reports" / "diff.json").read_text(encoding="utf-8"))["counts"]["new"] == 0
        assert out.strip().endswith(f"wrote {folder / 'reports' / 'diff.json'}")


def test_collect_into_a_folder_is_checked_as_its_snapshot_json(monkeypatch):
    from auditor.runs import single_output

    with workspace() as folder:
        assert single_output(folder, "snapshot.json") == folder / "snapshot.json"
        assert single_output(folder / "new" / "s.json", "snapshot.json") == folder / "new" / "s.json"
        assert not (folder / "new").exists()  # made (0700) when the file is written


def _limited(size: int):  # the disk fills up under the report: every file past `size` bytes fails (EFBIG)
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def test_a_disk_that_fills_while_writing_is_one_line_and_leaves_the_old_set(tmp_path):
    out = tmp_path / "out"
    assert run_cli("evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(out), "-f", "json")[0] == 1
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    done = subprocess.run(
        [sys.executable, "-c", "from auditor.cli import main; main()", "evaluate", str(SNAPSHOT), "--baseline",
         str(BASELINE), "--out", str(out)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True, timeout=120,
        preexec_fn=_limited(64 * 1024))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "cannot write" in lines[0], done.stderr
    assert "File too large" in lines[0] and "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or ".auditor-" in p.name]


def test_the_current_folder_is_no_out_even_when_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(live_module, "collect_run", no_collection)
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    for out in (".", ".."):
        refused_before_the_work(*run_cli("demo", "--out", out, "--quiet"), "cannot be the current folder")
    assert list((tmp_path / "empty").iterdir()) == []
