"""The SQLite history: runs stored whole or not at all, concurrent writers, SIGKILL at random points."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import auditor.history.store as store_module
from auditor.errors import ConfigError, InputError
from auditor.history.store import HistoryStore, default_path
from auditor.history.tracking import history_path
from auditor.models.baseline import parse_baseline
from auditor.models.findings import FindingsDocument, Status
from tests.history.support import BASELINE, SNAPSHOT, document, finding, sample

ROOT = Path(__file__).resolve().parents[2]


def consistent(path: Path) -> dict[int, int]:
    """Integrity check passes and every stored run holds exactly its summary's number of findings."""
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = HistoryStore(path, create=False)
    counts = store.finding_counts()
    runs = store.runs(limit=10_000)
    for run in runs:
        assert counts.get(run.id, 0) == run.summary["total"], run.id
    return counts


def test_a_run_is_stored_and_read_back_with_its_findings(tmp_path):
    _, doc = sample()
    store = HistoryStore(tmp_path / "h.sqlite")
    run_id = store.record(doc)
    run = store.run(run_id)
    assert (run.tenant_id, run.baseline_file, run.collected_at) == (doc.run.tenant_id, "sample.toml",
                                                                     doc.run.collected_at)
    assert run.summary == doc.summary and run.count(Status.FAIL) == doc.summary["by_status"]["FAIL"]
    assert store.findings(run_id) == doc.findings
    assert store.snapshot(run_id) is None  # the raw snapshot only when asked for
    assert store.previous(doc.run.tenant_id, "sample.toml") == run
    assert store.previous(doc.run.tenant_id, "other.toml") is None


def test_the_raw_snapshot_is_kept_only_when_asked(tmp_path):
    snapshot, doc = sample()
    store = HistoryStore(tmp_path / "h.sqlite")
    run_id = store.record(doc, snapshot.to_json())
    assert json.loads(store.snapshot(run_id) or "{}")["tenant"] == json.loads(snapshot.to_json())["tenant"]


def test_an_exception_inside_the_transaction_stores_no_partial_run(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite"
    store = HistoryStore(path)
    kept = store.record(document(finding("A-1", "a", Status.FAIL)))
    real = store_module.finding_row
    calls = []

    def dies_on_the_fifth(run_id, position, f):
        calls.append(position)
        if position == 4:
            raise RuntimeError("killed mid-run")
        return real(run_id, position, f)

    monkeypatch.setattr(store_module, "finding_row", dies_on_the_fifth)
    with pytest.raises(RuntimeError):
        store.record(sample()[1])
    assert calls == [0, 1, 2, 3, 4]
    monkeypatch.setattr(store_module, "finding_row", real)
    assert [r.id for r in store.runs()] == [kept]
    assert consistent(path) == {kept: 1}
    assert store.record(document(finding("A-1", "a", Status.PASS))) == kept + 1  # and the file still takes writes


def _write_runs(path: str, label: str, count: int, doc: FindingsDocument) -> None:
    store = HistoryStore(Path(path))
    for i in range(count):
        store.record(dataclasses.replace(doc, run=dataclasses.replace(doc.run, tenant_id=f"{label}-{i}")))


def test_concurrent_writers_processes_and_threads_lose_nothing(tmp_path):
    path = tmp_path / "h.sqlite"
    doc = sample()[1]
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=_write_runs, args=(str(path), f"p{n}", 8, doc)) for n in range(3)]
    threads = [threading.Thread(target=_write_runs, args=(str(path), f"t{n}", 8, doc)) for n in range(3)]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*processes, *threads):
        worker.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    runs = HistoryStore(path, create=False).runs(limit=1000)
    assert sorted(r.tenant_id for r in runs) == sorted(f"{w}{n}-{i}" for w in "pt" for n in range(3) for i in range(8))
    assert set(consistent(path).values()) == {len(doc.findings)}


CHILD = """
import sys
from pathlib import Path
from auditor.history.store import HistoryStore
from auditor.models.baseline import load_baseline
from auditor.models.snapshot import load_snapshot
from auditor.pipeline import evaluate_and_report
snapshot, baseline = load_snapshot(Path(sys.argv[1])), load_baseline(Path(sys.argv[2]))
store, out = HistoryStore(Path(sys.argv[3])), Path(sys.argv[4])
evaluate_and_report(snapshot, baseline, out, ["json", "csv", "html"], store)  # imports done: now a tight loop
print("ready", flush=True)
while True:
    evaluate_and_report(snapshot, baseline, out, ["json", "csv", "html"], store)
"""


def test_sigkill_at_random_points_leaves_whole_reports_and_a_consistent_database(tmp_path):
    db, out = tmp_path / "h.sqlite", tmp_path / "out"
    expected = len(sample()[1].findings)
    rng = random.Random(20260601)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(SNAPSHOT), str(BASELINE), str(db), str(out)],
                                 stdout=subprocess.PIPE, env=env, cwd=ROOT)
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.5))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        consistent(db)
        if (out / "findings.json").exists():
            doc = FindingsDocument.from_dict(json.loads((out / "findings.json").read_text()))
            assert len(doc.findings) == expected
        if (out / "findings.csv").exists():
            assert len(pd.read_csv(out / "findings.csv", dtype=str)) == expected
        if (out / "report.html").exists():
            assert (out / "report.html").read_text().rstrip().endswith("</html>")
    assert len(HistoryStore(db, create=False).runs(limit=1000)) >= 5  # one per child before "ready", and more


def test_default_path_follows_xdg_data_home(tmp_path, monkeypatch):
    assert default_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "mailbox-auditor" / "history.sqlite"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "share" / "mailbox-auditor" / "history.sqlite"
    assert default_path({"XDG_DATA_HOME": "relative/is/ignored"}) == expected
    assert default_path({}) == expected


def test_history_path_option_beats_the_baseline_which_is_relative_to_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with_path = parse_baseline('[history]\npath = "runs/h.sqlite"\n', origin=str(tmp_path / "conf" / "b.toml"))
    without = parse_baseline("", origin=str(tmp_path / "b.toml"))
    assert history_path(tmp_path / "cli.sqlite", with_path) == tmp_path / "cli.sqlite"
    assert history_path(None, with_path) == tmp_path / "conf" / "runs" / "h.sqlite"
    assert history_path(None, without) == tmp_path / "xdg" / "mailbox-auditor" / "history.sqlite"


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not sqlite at all, " * 100)
    with pytest.raises(ConfigError, match=r"notes\.txt: not a usable history database"):
        HistoryStore(path).ensure()
    with pytest.raises(InputError, match="no history database here"):
        HistoryStore(tmp_path / "absent.sqlite", create=False).runs()
    assert not (tmp_path / "absent.sqlite").exists()


def test_the_database_is_owner_only(tmp_path):
    path = tmp_path / "h.sqlite"
    HistoryStore(path).record(document(finding("A-1", "a", Status.FAIL)))
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_run_that_collected_nothing_is_reported_but_not_recorded(tmp_path):
    from auditor.models.baseline import load_baseline
    from auditor.models.snapshot import SectionStatus
    from auditor.pipeline import evaluate_and_report

    snapshot, _ = sample()
    refused = dataclasses.replace(snapshot, sections={
        name: dataclasses.replace(s, status=SectionStatus.ERROR, error="sign-in refused (AADSTS7000215)")
        for name, s in snapshot.sections.items()})
    store = HistoryStore(tmp_path / "h.sqlite")
    result = evaluate_and_report(refused, load_baseline(BASELINE), tmp_path / "out", ["json"], store)
    assert result.run_id is None and store.runs() == [] and result.exit_code() == 3
    assert (tmp_path / "out" / "findings.json").exists()
    ok = evaluate_and_report(snapshot, load_baseline(BASELINE), tmp_path / "out", ["json"], store)
    assert ok.run_id == 1 and [r.id for r in store.runs()] == [1]
