"""History that tells the truth: a damaged database is refused before any collection, a damaged row is one clear
line, a history that cannot take a finished run keeps the run's verdict and says it was not recorded, a
read-only history can still be listed, and a run that saw nothing claims no drift."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import auditor.history.store as store_module
import auditor.pause as pause_module
from auditor.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([*args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def one_line_refusal(code: int, out: str, err: str, naming: str) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: error: ") and naming in lines[0], err


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history holding one demo run (copied before each use)."""
    folder = tmp_path_factory.mktemp("recorded")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--history", str(folder / "h.sqlite"), "--out", str(folder / "out"), "--quiet",
              "--format", "json"])
    assert exc.value.code == 1
    return folder / "h.sqlite"


def corrupt_pages(path: Path) -> None:
    """Overwrite part of every page after the schema: what a bad disk or a careless copy leaves."""
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 3, len(data), 4096):
        data[offset + 100: offset + 400] = b"\xff" * 300
    path.write_bytes(bytes(data))


def empty_schema(path: Path) -> None:
    path.unlink()
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute("PRAGMA user_version = 1")  # this auditor's schema number, without its tables


def garbage_summary(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        con.execute("UPDATE runs SET summary = '{not json'")


def garbage_finding(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        con.execute("UPDATE findings SET finding = '[1,' WHERE position = 3")


def wrong_counts(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        con.execute("""UPDATE runs SET summary = '{"by_status": {"FAIL": "many"}}'""")


DAMAGE = {"corrupted pages": (corrupt_pages, "damaged"), "empty schema": (empty_schema, "no such table"),
          "garbage JSON summary": (garbage_summary, "run 1"), "wrong counts": (wrong_counts, "run 1"),
          "garbage JSON finding": (garbage_finding, "run 1's findings")}


@pytest.fixture(params=list(DAMAGE))
def damaged(request: pytest.FixtureRequest, recorded: Path, tmp_path: Path) -> tuple[Path, str, str]:
    path = tmp_path / "history.sqlite"
    shutil.copy(recorded, path)
    damage, naming = DAMAGE[request.param]
    damage(path)
    return path, naming, request.param


def test_a_damaged_history_is_refused_before_collection(damaged, tmp_path, capsys) -> None:
    path, naming, _ = damaged
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "demo", "--history", str(path), "--out", str(out), "--quiet")
    one_line_refusal(code, stdout, err, naming)
    assert not out.exists(), "collection ran although the history was unusable"


def test_history_and_diff_refuse_a_damaged_history_with_one_line(damaged, tmp_path, capsys) -> None:
    path, naming, _ = damaged
    code, stdout, err = run(capsys, "history", "--history", str(path))
    one_line_refusal(code, stdout, err, naming)
    code, stdout, err = run(capsys, "diff", "1", "1", "--history", str(path), "--out", str(tmp_path / "d.json"))
    one_line_refusal(code, stdout, err, naming)


# -- a history that cannot take a finished run ----------------------------------------------------------------

@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders read-only even for root (the immutable attribute), else by mode bits."""
    if os.geteuid() == 0:
        if not shutil.which("chattr"):
            pytest.skip("root without chattr: cannot make a file read-only")
        done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, check=False)
        if done.returncode:
            pytest.skip(f"chattr +i: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        return
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def _locked(path: Path) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")  # another run's write transaction, held past the busy timeout
        try:
            yield
        finally:
            con.execute("ROLLBACK")
            con.close()
    return hold()


def _refusing_writes(path: Path) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def refuse() -> Iterator[None]:
        with contextlib.closing(sqlite3.connect(path)) as con, con:  # every write fails, as on a full disk
            con.execute("CREATE TRIGGER full BEFORE INSERT ON runs BEGIN "
                        "SELECT RAISE(ABORT, 'database or disk is full'); END")
        yield
    return refuse()


BLOCKERS = {"locked": (_locked, "locked"), "read-only": (lambda p: read_only(p, p.parent), "history"),
            "disk full": (_refusing_writes, "disk is full")}


@pytest.mark.parametrize("blocker", list(BLOCKERS))
def test_a_history_that_cannot_record_keeps_the_verdict_and_says_so(blocker, recorded, tmp_path, capsys,
                                                                    monkeypatch) -> None:
    """The audit completed and its reports are written: the exit code stays the verdict's (1 here), and one
    warning says the run was not recorded (so its new failures stay new next time)."""
    folder = tmp_path / "history"
    folder.mkdir()
    path = folder / "h.sqlite"
    shutil.copy(recorded, path)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.3)
    make, naming = BLOCKERS[blocker]
    stack = contextlib.ExitStack()

    def block_once_evaluated(step: str) -> None:  # the history turns unusable after its check, before recording
        if step == "evaluated":
            stack.enter_context(make(path))

    monkeypatch.setattr(pause_module, "pause_at", block_once_evaluated)
    out = tmp_path / "out"
    with stack:
        code, _, err = run(capsys, "demo", "--history", str(path), "--out", str(out), "--quiet")
    assert code == 1, err
    assert "Traceback" not in err
    assert {p.name for p in out.iterdir()} >= {"findings.json", "report.html", "snapshot.json"}
    warning = [line for line in err.splitlines() if "not recorded" in line]
    assert len(warning) == 1 and naming in warning[0], err
    with contextlib.closing(sqlite3.connect(path)) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_the_exit_code_precedence_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Exit codes"):readme.index("## Scheduled runs")]
    assert "not recorded" in section


def test_history_lists_runs_from_a_read_only_directory(recorded, tmp_path, capsys) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    path = folder / "h.sqlite"
    shutil.copy(recorded, path)
    with read_only(path, folder):
        code, stdout, err = run(capsys, "history", "--history", str(path))
        assert code == 0 and "Contoso" in stdout, err
        code, stdout, err = run(capsys, "diff", "1", "1", "--history", str(path), "--out", str(tmp_path / "d.json"))
        assert code == 0 and "0 new" in stdout, err
    assert sorted(p.name for p in folder.iterdir()) == ["h.sqlite"]


def test_a_failed_sign_in_claims_no_drift_and_says_the_run_was_not_recorded(tmp_path, capsys) -> None:
    path = tmp_path / "h.sqlite"
    code, _, err = run(capsys, "demo", "--history", str(path), "--out", str(tmp_path / "out"), "--quiet",
                            "--faults", "token_error=7000215")
    assert code == 3, err
    assert "count as new" not in err and "first recorded run" not in err, err
    assert "this run was not recorded (nothing was collected)" in err
    with contextlib.closing(sqlite3.connect(path)) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
