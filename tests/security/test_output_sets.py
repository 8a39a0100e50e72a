"""A run's files land as one set: two runs into one --out, a SIGKILL or a SIGTERM mid-write leave either the
previous set or the new one, never snapshot.json of one run beside report.html of another, and no temporary
file; folders the auditor creates are owner-only even under umask 000."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from samples import SAMPLES_DIR

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
BASELINE = SAMPLES_DIR / "baselines" / "sample.toml"
SET = ("snapshot.json", "findings.json", "findings.csv", "report.html", "junit.xml")


def variant(folder: Path, hour: int) -> Path:
    """The sample snapshot collected at another hour: each run's files say which run they belong to."""
    doc = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    doc["collected_at"] = f"2026-06-01T{hour:02d}:00:00Z"
    path = folder / f"snapshot-{hour}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def one_run(out: Path) -> str:
    """Every file in `out` belongs to the same run; returns that run's collected_at. The folder is pinned (opened
    once), so a set swapped in meanwhile cannot mix into what is read."""
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        folder = Path(f"/proc/self/fd/{fd}")
        names = set(os.listdir(folder))
        if not names >= set(SET):
            raise FileNotFoundError(f"not a whole set: {sorted(names)}")
        findings = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
        moment = findings["run"]["collected_at"]
        snapshot = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
        assert snapshot["collected_at"] == moment, ("snapshot.json of another run", moment)
        shown = f'<time datetime="{moment}"'  # the header's collection time, as the report marks it up
        assert shown in (folder / "report.html").read_text(encoding="utf-8"), ("report.html of another run", moment)
        assert moment in (folder / "junit.xml").read_text(encoding="utf-8"), ("junit.xml of another run", moment)
        assert len(pd.read_csv(folder / "findings.csv", dtype=str)) == len(findings["findings"])
    finally:
        os.close(fd)
    return str(moment)


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.endswith(".tmp") or ".auditor-" in p.name)


def _publish(out: str, snapshot: str, rounds: int, start: multiprocessing.synchronize.Barrier | None) -> None:
    from auditor.models.baseline import load_baseline
    from auditor.models.snapshot import load_snapshot
    from auditor.runs import RunOptions, finish_run

    snap, base = load_snapshot(Path(snapshot)), load_baseline(BASELINE)
    options = RunOptions(out=Path(out), formats=("json", "csv", "html", "junit"), no_history=True)
    for _ in range(rounds):
        if start is not None:
            start.wait(60)
        finish_run(snap, base, Path(out), options, None)


def test_runs_writing_into_one_out_at_once_leave_one_whole_set(tmp_path):
    out = tmp_path / "out"
    snapshots = [variant(tmp_path, hour) for hour in (10, 11, 12)]
    fork = multiprocessing.get_context("fork")
    rounds = 4
    start = fork.Barrier(len(snapshots))
    workers = [fork.Process(target=_publish, args=(str(out), str(s), rounds, start)) for s in snapshots]
    for w in workers:
        w.start()
    seen = set()
    deadline = time.monotonic() + 180
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        if out.exists() and (out / "findings.json").exists():
            # a set being replaced may vanish under the reader (not mix: that is an assertion)
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, pd.errors.EmptyDataError):
                seen.add(one_run(out))
        time.sleep(0.05)
    for w in workers:
        w.join(30)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert one_run(out) in {f"2026-06-01T{h}:00:00Z" for h in (10, 11, 12)}
    assert leftovers(tmp_path) == []


CHILD = """
import sys
from pathlib import Path
from auditor.models.baseline import load_baseline
from auditor.models.snapshot import load_snapshot
from auditor.runs import RunOptions, finish_run
out, base = Path(sys.argv[1]), load_baseline(Path(sys.argv[2]))
snapshots = [load_snapshot(Path(p)) for p in sys.argv[3:]]
options = RunOptions(out=out, formats=("json", "csv", "html", "junit"), no_history=True)
finish_run(snapshots[0], base, out, options, None)
print("ready", flush=True)
while True:
    for snapshot in snapshots[1:] + snapshots[:1]:
        finish_run(snapshot, base, out, options, None)
"""


def signalled(tmp_path: Path, signum: int, kills: int, seed: int) -> list[str]:
    """A process writing sets of two runs in turn into one --out, signalled at random moments; after each
    signal --out must hold one whole set. Returns the sets seen."""
    out = tmp_path / "out"
    snapshots = [variant(tmp_path, 10), variant(tmp_path, 11)]
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seen = []
    for _ in range(kills):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(BASELINE), *map(str, snapshots)],
                                 stdout=subprocess.PIPE, env=env, cwd=ROOT)
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.6))
        child.send_signal(signum)
        child.wait(30)
        child.stdout.close()
        seen.append(one_run(out))
        snapshots.reverse()  # the next child starts with the other run
    return seen


def test_sigkill_mid_write_leaves_the_old_set_or_the_new_one(tmp_path):
    seen = signalled(tmp_path, signal.SIGKILL, 6, 20261202)
    assert set(seen) <= {"2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"}


def test_sigterm_mid_write_leaves_one_set_and_no_temporary_file(tmp_path):
    signalled(tmp_path, signal.SIGTERM, 6, 20261203)
    assert leftovers(tmp_path) == []


def test_folders_the_auditor_creates_are_owner_only_under_umask_000(tmp_path):
    out, history = tmp_path / "reports" / "nightly" / "out", tmp_path / "state" / "auditor" / "h.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", "from auditor.cli import main; main()", "demo", "--out", str(out), "--history",
         str(history), "--quiet"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: os.umask(0))
    assert done.returncode == 1, done.stderr
    for folder in (out, out.parent, out.parent.parent, history.parent, history.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, (folder, oct(folder.stat().st_mode))
    for file in (*out.iterdir(), history):
        assert file.stat().st_mode & 0o777 == 0o600, file


def test_rerendering_a_run_keeps_its_other_files_and_another_run_replaces_the_whole_set(tmp_path):
    from auditor.cli import main

    def cli(*args: str) -> int:
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    out = tmp_path / "out"
    _publish(str(out), str(variant(tmp_path, 10)), 1, None)
    snapshot = (out / "snapshot.json").read_bytes()
    assert cli("report", str(out / "findings.json"), "--out", str(out), "--format", "html") == 0
    assert one_run(out) == "2026-06-01T10:00:00Z" and (out / "snapshot.json").read_bytes() == snapshot
    assert cli("evaluate", str(variant(tmp_path, 11)), "--baseline", str(BASELINE), "--out", str(out),
               "--format", "json") == 1
    assert {p.name for p in out.iterdir()} == {"findings.json", "manifest.json", "snapshot.json"}
    assert json.loads((out / "snapshot.json").read_text(encoding="utf-8"))["collected_at"] == "2026-06-01T11:00:00Z"
    assert leftovers(tmp_path) == []


def test_evaluating_the_snapshot_of_a_folder_an_older_auditor_wrote_keeps_it(tmp_path):
    """No manifest.json (written before sets): the run is told by findings.json, so re-evaluating the folder's
    own snapshot into it keeps that snapshot and the reports of the same run."""
    from auditor.cli import main

    out = tmp_path / "out"
    _publish(str(out), str(variant(tmp_path, 10)), 1, None)
    (out / "manifest.json").unlink()
    csv = (out / "findings.csv").read_bytes()
    with contextlib.suppress(SystemExit):
        main(["evaluate", str(out / "snapshot.json"), "--baseline", str(BASELINE), "--out", str(out), "-f", "json"])
    assert one_run(out) == "2026-06-01T10:00:00Z" and (out / "findings.csv").read_bytes() == csv
