"""Snapshots (`auditor evaluate`) and findings files (`auditor report`), mutated from good ones and random."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from samples import SAMPLES_DIR

from .conftest import FUZZ, JSON_VALUE, encoded, ids_in, judge, mutated, run_cli, workspace

SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
BASELINE = SAMPLES_DIR / "baselines" / "sample.toml"
SNAPSHOT_DOC = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
REPORTS = ("findings.json", "findings.csv", "report.html", "junit.xml")


def evaluate(data: bytes) -> None:
    with workspace() as folder:
        path = folder / "snapshot.json"
        path.write_bytes(data)
        out = folder / "out"
        code, stdout, err = run_cli("evaluate", str(path), "--baseline", str(BASELINE), "--out", str(out),
                                    "--format", "json")
        judge("snapshot", code, stdout, err, out, ("findings.json",))


@FUZZ
@given(st.data())
def test_mutated_snapshots(data: st.DataObject) -> None:
    evaluate(encoded(data.draw, data.draw(mutated(SNAPSHOT_DOC, ids_in(SNAPSHOT_DOC)))))


@FUZZ
@given(st.one_of(JSON_VALUE.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
def test_random_snapshots(data: bytes) -> None:
    evaluate(data)


def findings_document() -> dict:
    with workspace() as folder:
        code, _, err = run_cli("evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(folder),
                               "--format", "json")
        assert code == 1, err
        return json.loads((folder / "findings.json").read_text(encoding="utf-8"))


FINDINGS_DOC = findings_document()


def report(data: bytes, known_bug: bool = False) -> None:
    with workspace() as folder:
        path = folder / "findings.json"
        path.write_bytes(data)
        out = folder / "out"
        code, stdout, err = run_cli("report", str(path), "--out", str(out))
        judge("findings", code, stdout, err, out, REPORTS, known_bug)


@FUZZ
@given(st.data())
def test_mutated_findings_files(data: st.DataObject) -> None:
    report(encoded(data.draw, data.draw(mutated(FINDINGS_DOC))))


@FUZZ
@given(st.one_of(JSON_VALUE.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
def test_random_findings_files(data: bytes) -> None:
    report(data)


DEEP = b"[" * 100_000 + b"]" * 100_000  # json.loads recurses: RecursionError, not a JSONDecodeError


def test_a_deeply_nested_snapshot_is_refused_with_one_line() -> None:
    evaluate(DEEP)


def test_a_deeply_nested_findings_file_is_refused_with_one_line() -> None:
    report(DEEP)


def diff(data: bytes) -> None:
    """`auditor diff BAD GOOD`: the same file kind as `report` reads, so the same contract."""
    with workspace() as folder:
        path, good = folder / "old.json", folder / "new.json"
        path.write_bytes(data)
        good.write_text(json.dumps(FINDINGS_DOC), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("diff", str(path), str(good), "--out", str(out / "diff.json"))
        judge("diff", code, stdout, err, out, ("diff.json",))


@FUZZ
@given(st.data())
def test_mutated_findings_files_to_diff(data: st.DataObject) -> None:
    diff(encoded(data.draw, data.draw(mutated(FINDINGS_DOC))))


@FUZZ
@given(st.one_of(JSON_VALUE.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
def test_random_findings_files_to_diff(data: bytes) -> None:
    diff(data)


def test_a_deeply_nested_findings_file_to_diff_is_refused_with_one_line() -> None:
    diff(DEEP)
