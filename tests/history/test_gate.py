"""The `--fail-on-new` gate cannot be lost: a run killed at any step before its verdict is final never becomes
"the previous run"; runs of one tenant that record at once each compare with the one that finished before it;
a version-1 history stays readable and is upgraded by the next run."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.history.store import HistoryStore
from tests.history.support import BASELINE, SNAPSHOT
from tests.history.test_runs import changed_tenant

ROOT = Path(__file__).resolve().parents[2]
STEPS_BEFORE_THE_VERDICT = ["evaluated", "registered", "compared", "staged", "reported", "completed"]
NEW_IN_CHANGED = 3
"""FAILs in the changed demo tenant that the unchanged one does not have (tests/history/test_runs.py)."""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([*args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A history holding one finished run of the unchanged demo tenant, and the changed tenant file."""
    tmp = tmp_path_factory.mktemp("gate")
    changed_tenant(tmp / "changed.json")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--history", str(tmp / "h.sqlite"), "--out", str(tmp / "out"), "--quiet"])
    assert exc.value.code == 1
    return tmp


def killed_at(step: str, args: list[str], tmp: Path) -> None:
    """Start `auditor ARGS` in a process of its own, wait until it holds at `step`, SIGKILL it there."""
    flag = tmp / f"paused-{step}"
    env = {**os.environ, "AUDITOR_TEST_PAUSE_AT": f"{step}:{flag}", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", "from auditor.cli import main; main()", *args], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not flag.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        why = child.stderr.read() if child.stderr and child.poll() is not None else b""
        assert flag.exists(), f"never reached {step}: exit {child.poll()}, {why!r}"
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stderr is not None:
            child.stderr.close()


@pytest.mark.parametrize("step", STEPS_BEFORE_THE_VERDICT)
def test_a_run_killed_before_its_verdict_is_final_never_becomes_the_previous_run(step, first_run, tmp_path, capsys):
    db, out = tmp_path / "h.sqlite", tmp_path / "out"
    shutil.copy(first_run / "h.sqlite", db)
    shutil.copytree(first_run / "out", out)
    old_set = {p.name: p.read_bytes() for p in out.iterdir()}
    args = ["demo", "--tenant", str(first_run / "changed.json"), "--history", str(db), "--out", str(out), "--quiet",
            "--fail-on-new"]
    killed_at(step, args, tmp_path)

    # The killed run is listed as incomplete (once it was stored at all), and drift ignores it.
    code, listing, _ = run(capsys, "history", "--history", str(db))
    rows = [line.split() for line in listing.strip().splitlines()[1:]]
    assert code == 0 and rows[-1][0] == "1" and rows[-1][-1] == "finished"
    assert [r[-1] for r in rows[:-1]] == ([] if step == "evaluated" else ["incomplete"])
    # --out still holds the first run's set, whole (the kill came before or after the swap, never during it).
    current = {p.name: p.read_bytes() for p in out.iterdir()}
    if step in ("reported", "completed"):
        assert current != old_set and set(current) == set(old_set)
    else:
        assert current == old_set

    code, _, err = run(capsys, *args)
    assert code == 1, err
    assert "since run 1 (" in err and f": {NEW_IN_CHANGED} new," in err, err
    assert not list(tmp_path.glob(".out.auditor-*")), "the killed run's staging folder was not removed"


def _finish(history: str, out: str, label: int, start: multiprocessing.synchronize.Barrier,
            results: multiprocessing.Queue) -> None:
    from auditor.models.baseline import load_baseline
    from auditor.models.snapshot import load_snapshot
    from auditor.runs import RunOptions, finish_run

    snapshot, base = load_snapshot(SNAPSHOT), load_baseline(BASELINE)
    snapshot = dataclasses.replace(snapshot, collected_at=snapshot.collected_at.replace(minute=label))
    options = RunOptions(out=Path(out), formats=("json", "html"), history=Path(history), fail_on_new=True)
    store = HistoryStore(Path(history))
    store.ensure()
    start.wait(30)
    done = finish_run(snapshot, base, Path(out), options, store)
    drift = done.result.document.drift
    assert drift is not None
    results.put((done.result.run_id, drift.previous.run_id if drift.previous else None, done.warnings))


def test_four_runs_recording_at_once_each_compare_with_the_one_that_finished_before(tmp_path):
    history = str(tmp_path / "h.sqlite")
    HistoryStore(Path(history)).ensure()
    fork = multiprocessing.get_context("fork")
    start, results = fork.Barrier(4), fork.Queue()
    workers = [fork.Process(target=_finish, args=(history, str(tmp_path / f"out{n}"), n, start, results))
               for n in range(4)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    run_ids = {run_id for run_id, _, _ in outcomes}
    previous = [prev for _, prev, _ in outcomes]
    assert len(run_ids) == 4 and None not in run_ids
    assert previous.count(None) == 1, outcomes  # one first recorded run, not four
    assert len({p for p in previous if p is not None}) == 3 and set(previous) - {None} < run_ids
    firsts = [w for _, _, warnings in outcomes for w in warnings if "first recorded run" in w]
    assert len(firsts) == 1
    finished = HistoryStore(Path(history), create=False).runs(limit=10, finished=True)
    chain = [r.id for r in reversed(finished)]  # in the order they finished
    assert dict(zip(chain[1:], chain[:-1], strict=True)) == {r: p for r, p, _ in outcomes if p is not None}


V1_SCHEMA = """
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, tenant_domain TEXT NOT NULL,
    tenant_name TEXT NOT NULL, baseline_file TEXT NOT NULL, baseline_sha256 TEXT NOT NULL, collected_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL, tool_version TEXT NOT NULL, summary TEXT NOT NULL, drift_counts TEXT, snapshot TEXT);
CREATE INDEX runs_by_tenant ON runs (tenant_id, baseline_file, id);
CREATE TABLE findings (run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, position INTEGER NOT NULL,
    check_id TEXT NOT NULL, integration TEXT NOT NULL, resource TEXT NOT NULL, status TEXT NOT NULL,
    severity TEXT NOT NULL, finding TEXT NOT NULL, PRIMARY KEY (run_id, position));
PRAGMA user_version = 1;
"""
"""The schema the auditor wrote before runs had a `completed` flag."""


def _as_version_1(source: Path, path: Path) -> None:
    with closing(sqlite3.connect(path)) as con:
        con.executescript(V1_SCHEMA)
        con.execute("ATTACH DATABASE ? AS old", (str(source),))
        con.execute("INSERT INTO runs SELECT id, tenant_id, tenant_domain, tenant_name, baseline_file, "
                    "baseline_sha256, collected_at, recorded_at, tool_version, summary, drift_counts, snapshot "
                    "FROM old.runs")
        con.execute("INSERT INTO findings SELECT * FROM old.findings")
        con.commit()
        con.execute("DETACH DATABASE old")


def test_a_version_1_history_is_read_as_it_is_and_upgraded_by_the_next_run(first_run, tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    _as_version_1(first_run / "h.sqlite", db)
    before = db.read_bytes()
    code, listing, _ = run(capsys, "history", "--history", str(db))
    assert code == 0 and listing.splitlines()[1].split()[-1] == "finished"
    assert db.read_bytes() == before  # reading never upgrades

    code, _, err = run(capsys, "demo", "--tenant", str(first_run / "changed.json"), "--history", str(db), "--out",
                       str(tmp_path / "out"), "--quiet", "--fail-on-new")
    assert code == 1 and "since run 1 (" in err and f": {NEW_IN_CHANGED} new," in err, err
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 2
        assert con.execute("SELECT id, completed FROM runs ORDER BY id").fetchall() == [(1, 1), (2, 2)]


def test_a_history_from_a_newer_auditor_is_refused_with_one_line(first_run, tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    shutil.copy(first_run / "h.sqlite", db)
    with closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA user_version = 3")
    for args in (["history", "--history", str(db)], ["demo", "--history", str(db), "--out", str(tmp_path / "o")]):
        code, _, err = run(capsys, *args)
        assert code == 2 and err.strip().endswith("history schema 3 was written by a newer auditor"), err
        assert len(err.strip().splitlines()) == 1
