"""The CLI as a user runs it: files written, exit codes, one-line errors with no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from auditor.cli import main
from samples import SAMPLES_DIR

SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
BASELINE = SAMPLES_DIR / "baselines" / "sample.toml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([*args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_checks_json_lists_thirty_one_checks(capsys):
    code, out, _ = run(capsys, "checks", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 31 and rows[0]["id"] == "APP-001" and rows[-1]["id"] == "TEN-004"


def test_checks_table_and_markdown(capsys):
    code, out, _ = run(capsys, "checks")
    assert code == 0 and "SCOPE-005" in out and "critical" in out
    code, out, _ = run(capsys, "checks", "--format", "markdown")
    assert code == 0 and out.startswith("# Check catalog")


def test_evaluate_writes_json_and_csv_and_exits_1_on_failures(capsys, tmp_path):
    code, out, err = run(capsys, "evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(tmp_path))
    assert code == 1, err
    doc = json.loads((tmp_path / "findings.json").read_text())
    assert doc["run"]["tenant"]["id"] == "11111111-2222-3333-4444-555555555555"
    assert doc["summary"]["by_status"]["FAIL"] > 0 and doc["inventory"]["integrations"]
    csv = (tmp_path / "findings.csv").read_text()
    assert csv.splitlines()[0].startswith("check_id,status,severity,integration,resource,message")
    assert f"{len(doc['findings'])} findings" in out


def test_evaluate_twice_gives_byte_identical_findings_json(capsys, tmp_path):
    for name in ("a", "b"):
        run(capsys, "evaluate", str(SNAPSHOT), "-b", str(BASELINE), "-o", str(tmp_path / name))
    assert (tmp_path / "a" / "findings.json").read_bytes() == (tmp_path / "b" / "findings.json").read_bytes()
    assert (tmp_path / "a" / "findings.csv").read_bytes() == (tmp_path / "b" / "findings.csv").read_bytes()


def test_fail_on_raises_the_bar(capsys, tmp_path):
    code, _, _ = run(capsys, "evaluate", str(SNAPSHOT), "-b", str(BASELINE), "-o", str(tmp_path), "--fail-on",
                     "critical")
    assert code == 1  # the sample has critical failures
    code, _, err = run(capsys, "evaluate", str(SNAPSHOT), "-b", str(BASELINE), "-o", str(tmp_path), "--fail-on",
                       "bogus")
    assert code == 2 and "Traceback" not in err


def test_error_findings_give_exit_3_and_reports_are_still_written(capsys, tmp_path):
    doc = json.loads(SNAPSHOT.read_text())
    doc["sections"]["exchange.accessTests"] = {"source": "exo:Test-ApplicationAccessPolicy", "status": "error",
                                               "error": "pipeline failed: The server is busy", "data": None}
    broken = tmp_path / "snap.json"
    broken.write_text(json.dumps(doc))
    code, _, _ = run(capsys, "evaluate", str(broken), "-b", str(BASELINE), "-o", str(tmp_path / "out"))
    assert code == 3
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())["findings"]
    errors = [f for f in findings if f["status"] == "ERROR"]
    assert errors and all("The server is busy" in f["message"] for f in errors)


def test_csv_cells_are_formula_safe_and_round_trip_with_pandas(capsys, tmp_path):
    doc = json.loads(SNAPSHOT.read_text())
    doc["sections"]["graph.applications"]["data"][-1]["displayName"] = "@SUM(1+1)"  # shown first in TEN-003
    evil = tmp_path / "snap.json"
    evil.write_text(json.dumps(doc))
    run(capsys, "evaluate", str(evil), "-b", str(BASELINE), "-o", str(tmp_path / "out"), "-f", "csv")
    df = pd.read_csv(tmp_path / "out" / "findings.csv", dtype=str, keep_default_na=False)
    assert list(df.columns[:6]) == ["check_id", "status", "severity", "integration", "resource", "message"]
    for value in df.to_numpy().ravel():
        assert not str(value).startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert any(m.startswith("'@SUM(1+1): valid until") for m in df["message"])
    assert not (tmp_path / "out" / "findings.json").exists()  # only the requested format


@pytest.mark.parametrize(("setup", "needles"), [
    (lambda d: (d / "missing.json", BASELINE), ["missing.json", "no such file"]),
    (lambda d: (SNAPSHOT, d / "missing.toml"), ["missing.toml", "no such file"]),
    (lambda d: (_write(d / "s.json", "{not json"), BASELINE), ["s.json", "not valid JSON"]),
    (lambda d: (_write(d / "s.json", '{"schema_version": 99}'), BASELINE), ["schema_version is 99"]),
    (lambda d: (_write(d / "s.json", "[]"), BASELINE), ["not a JSON object"]),
    (lambda d: (SNAPSHOT, _write(d / "b.toml", "[tenant\n")), ["b.toml", "not valid TOML"]),
    (lambda d: (SNAPSHOT, _write(d / "b.toml", "[policy]\nwarn = 1\n")), ["b.toml", "policy.warn", "unknown key"]),
    (lambda d: (SNAPSHOT, _write(d / "b.toml", "[policy]\ncanary_sample_size = 'x'\n")),
     ["policy.canary_sample_size", "must be an integer"]),
    (lambda d: (SNAPSHOT, _write(d / "b.toml", "[[waiver]]\ncheck = 'CRED-999'\nresource = 'x'\nreason = 'r'\n"
                                               "expires = 2027-01-01\n")), ["CRED-999", "not a check id"]),
    (lambda d: (_write(d / "s.json", json.dumps({**json.loads(SNAPSHOT.read_text()), "sections": {"x.y": {}}})),
                BASELINE), ["sections.x.y", "unknown section"]),
])
def test_bad_input_exits_2_with_one_clear_line(capsys, tmp_path, setup, needles):
    snapshot, baseline = setup(tmp_path)
    code, _, err = run(capsys, "evaluate", str(snapshot), "-b", str(baseline), "-o", str(tmp_path / "out"))
    assert code == 2
    assert_one_line_error(err, *needles)
    assert not (tmp_path / "out").exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_report_rerenders_from_findings_json(capsys, tmp_path):
    run(capsys, "evaluate", str(SNAPSHOT), "-b", str(BASELINE), "-o", str(tmp_path / "a"))
    code, out, _ = run(capsys, "report", str(tmp_path / "a" / "findings.json"), "-o", str(tmp_path / "b"))
    assert code == 0 and "findings.csv" in out
    assert (tmp_path / "a" / "findings.csv").read_bytes() == (tmp_path / "b" / "findings.csv").read_bytes()
    code, _, err = run(capsys, "report", str(_write(tmp_path / "x.json", '{"schema_version": 1}')))
    assert code == 2
    assert_one_line_error(err, "not a findings.json document")


def test_init_writes_a_valid_commented_baseline_and_refuses_to_overwrite(capsys, tmp_path):
    target = tmp_path / "baseline.toml"
    code, _, _ = run(capsys, "init", "--out", str(target))
    assert code == 0 and target.read_text().startswith("# Mailbox-access auditor baseline")
    code, _, err = run(capsys, "init", "--out", str(target))
    assert code == 2
    assert_one_line_error(err, "already exists")
    code, out, _ = run(capsys, "init", "--out", "-")
    assert code == 0 and "[[integration]]" in out


def test_version_and_usage_errors(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("auditor ")
    code, _, err = run(capsys, "evaluate")
    assert code == 2 and "Missing argument" in err and "Traceback" not in err
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "Traceback" not in err
