"""Inputs at the edges: dates at the ends of the calendar, numbers out of range (nan, inf, huge), run ids and
limits past what SQLite holds, and emulator fault specs with typos. Each is either a correct run or exit 2 with
one line naming what is wrong, before any sign-in; never exit 4."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from auditor.demo import DEMO_TENANT
from auditor.starter import STARTER_BASELINE
from samples import SAMPLES_DIR

from .conftest import judge, run_cli, workspace

SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
BASELINE = SAMPLES_DIR / "baselines" / "sample.toml"
REPORTS = ("findings.json", "findings.csv", "report.html", "junit.xml")
CALENDAR_ENDS = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00",
                 "0001-01-01T00:00:00+05:00"]


def refused(target: str, code: int, out: str, err: str, out_dir, naming: str) -> None:
    judge(target, code, out, err, out_dir, ())
    assert code == 2 and naming in err, (code, err)


# -- dates -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("moment", CALENDAR_ENDS)
def test_a_snapshot_collected_at_the_end_of_the_calendar_is_refused(moment: str) -> None:
    doc = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    doc["collected_at"] = moment
    with workspace() as folder:
        (folder / "snapshot.json").write_text(json.dumps(doc), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("evaluate", str(folder / "snapshot.json"), "--baseline", str(BASELINE),
                                    "--out", str(out))
        refused("snapshot", code, stdout, err, out, "collected_at")


@pytest.mark.parametrize("moment", CALENDAR_ENDS)
def test_a_findings_file_collected_at_the_end_of_the_calendar_is_refused(moment: str) -> None:
    with workspace() as folder:
        code, _, err = run_cli("evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(folder),
                               "--format", "json")
        doc = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
        doc["run"]["collected_at"] = moment
        (folder / "findings.json").write_text(json.dumps(doc), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("report", str(folder / "findings.json"), "--out", str(out))
        refused("findings", code, stdout, err, out, "collected_at")


@pytest.mark.parametrize("days", [999_999_999_999, -999_999_999_999])
def test_a_findings_file_with_a_huge_warning_window_is_rendered(days: int) -> None:
    """The window CRED-002 recorded in its evidence draws the report's "expiring" marks: a number no run could
    have used (the baseline allows 0 to 3650) is ignored, not added to a date."""
    with workspace() as folder:
        code, _, err = run_cli("evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(folder),
                               "--format", "json")
        doc = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
        touched = 0
        for finding in doc["findings"]:
            if "warning_days" in (finding.get("evidence") or {}):
                finding["evidence"]["warning_days"] = days
                touched += 1
        assert touched
        (folder / "findings.json").write_text(json.dumps(doc), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("report", str(folder / "findings.json"), "--out", str(out))
        judge("findings", code, stdout, err, out, REPORTS)
        assert code == 0, err


def _with_credential_dates(text: str, start: str, end: str) -> str:
    text = re.sub(r'"startDateTime": "[^"]*"', f'"startDateTime": "{start}"', text, count=1)
    return re.sub(r'"endDateTime": "[^"]*"', f'"endDateTime": "{end}"', text, count=1)


@pytest.mark.parametrize(("start", "end"), [("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"),
                                            ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")])
def test_credentials_at_the_ends_of_the_calendar_are_judged_and_drawn(start: str, end: str) -> None:
    """A credential that "never expires" (9999-12-31, even with an offset that takes it past year 9999 in UTC)
    is evidence like any other: every report is written, the inventory and the timeline included."""
    with workspace() as folder:
        snapshot = folder / "snapshot.json"
        snapshot.write_text(_with_credential_dates(SNAPSHOT.read_text(encoding="utf-8"), start, end),
                            encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("evaluate", str(snapshot), "--baseline", str(BASELINE), "--out", str(out))
        judge("snapshot", code, stdout, err, out, REPORTS)
        assert code == 1, err
        assert "9999-12-31" in (out / "findings.json").read_text(encoding="utf-8")


def test_a_tenant_file_with_credentials_at_the_ends_of_the_calendar_runs() -> None:
    with workspace() as folder:
        tenant = folder / "tenant.json"
        text = DEMO_TENANT.read_text(encoding="utf-8").replace('"now+170d"', '"9999-12-31T23:59:59-05:00"', 1)
        tenant.write_text(re.sub(r'"startDateTime": "[^"]*"', '"startDateTime": "0001-01-01T00:00:00+05:00"',
                                 text, count=1), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("demo", "--tenant", str(tenant), "--out", str(out), "--quiet")
        judge("tenant", code, stdout, err, out, ("snapshot.json", *REPORTS))
        assert code == 1, err


# -- baseline numbers ------------------------------------------------------------------------------------------

OUT_OF_RANGE = [("auth.timeout_s", "nan"), ("auth.timeout_s", "inf"), ("auth.timeout_s", "1e300"),
                ("auth.timeout_s", "-inf"), ("exchange.operation_timeout_s", "inf"),
                ("exchange.operation_timeout_s", "nan"), ("exchange.pools", "3000"), ("exchange.pools", "100000000"),
                ("exchange.port", "0"), ("policy.credential_warning_days", "999999999999"),
                ("policy.max_secret_lifetime_days", "999999999999"), ("policy.canary_sample_size", "100000000"),
                ("auth.run_deadline_s", "inf"), ("auth.run_deadline_s", "0"), ("auth.run_deadline_s", "1e9")]


def starter_with(key: str, value: str) -> str:
    """The starter baseline (it lists every key) with one value changed, aimed at a port nobody serves: a run
    that got past the baseline would fail to sign in (exit 3), not refuse the key."""
    text = STARTER_BASELINE.replace("https://login.microsoftonline.com", "https://127.0.0.1:9")
    text = text.replace('server = "jump01.contoso.com"', 'server = "127.0.0.1"')
    name = key.split(".", 1)[1]
    changed, count = re.subn(rf"^{name} = \S+", f"{name} = {value}", text, count=1, flags=re.MULTILINE)
    assert count == 1, key
    return changed


@pytest.mark.parametrize(("key", "value"), OUT_OF_RANGE)
def test_a_baseline_number_out_of_range_is_refused_naming_the_key(key: str, value: str) -> None:
    with workspace() as folder:
        baseline = folder / "baseline.toml"
        baseline.write_text(starter_with(key, value), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("evaluate", str(SNAPSHOT), "--baseline", str(baseline), "--out", str(out))
        refused("baseline", code, stdout, err, out, key)


@pytest.mark.parametrize(("key", "value"), [("exchange.pools", "3000"), ("auth.timeout_s", "nan"),
                                            ("policy.credential_warning_days", "999999999999")])
def test_a_baseline_number_out_of_range_stops_an_audit_before_sign_in(key: str, value: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", "not-used-secret")
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", "not-used-password")
    with workspace() as folder:
        baseline = folder / "baseline.toml"
        baseline.write_text(starter_with(key, value), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("audit", "--baseline", str(baseline), "--out", str(out), "--no-history",
                                    "--quiet")
        refused("baseline", code, stdout, err, out, key)


@pytest.mark.parametrize(("key", "value"), [("exchange.pools", "16"), ("policy.credential_warning_days", "3650"),
                                            ("auth.timeout_s", "600"), ("policy.canary_sample_size", "0")])
def test_numbers_at_the_documented_limits_are_accepted(key: str, value: str) -> None:
    with workspace() as folder:
        baseline = folder / "baseline.toml"
        baseline.write_text(starter_with(key, value), encoding="utf-8")
        out = folder / "out"
        code, stdout, err = run_cli("evaluate", str(SNAPSHOT), "--baseline", str(baseline), "--out", str(out),
                                    "--format", "json")
        judge("baseline", code, stdout, err, out, ("findings.json",))
        assert code != 2, err


def test_every_number_range_is_documented_in_the_starter_baseline() -> None:
    from auditor.models.baseline import LIMITS

    for key, (low, high) in LIMITS.items():
        line = next(line for line in STARTER_BASELINE.splitlines() if line.startswith(f"{key} = "))
        assert f"{low} to {high}" in line, line


# -- history and diff ------------------------------------------------------------------------------------------

def recorded_history(folder) -> str:
    history = folder / "history.sqlite"
    code, _, err = run_cli("demo", "--history", str(history), "--out", str(folder / "demo"), "--quiet",
                           "--format", "json")
    assert code == 1, err
    return str(history)


@pytest.mark.parametrize("args", [("history", "--limit", "100000000000000000000"), ("history", "--limit", "1e20"),
                                  ("history", "--limit", "0"), ("diff", "99999999999999999999", "1"),
                                  ("diff", "1", "9223372036854775808")])
def test_numbers_past_what_the_history_holds_are_refused_with_one_line(args: tuple[str, ...]) -> None:
    with workspace() as folder:
        history = recorded_history(folder)
        out = folder / "out"
        code, stdout, err = run_cli(*args, "--history", history, *(("--out", str(out / "diff.json"))
                                                                 if args[0] == "diff" else ()))
        refused("history", code, stdout, err, out, "--limit" if args[0] == "history" else "no run")


# -- the emulator's fault spec ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "naming"), [
    ("psrp_fail=Get-Mailboxx", "Get-Mailboxx"), ("psrp_fail=Get-Mailbox+Remove-Mailbox", "Remove-Mailbox"),
    ("latency_ms=inf", "latency_ms"), ("latency_ms=nan", "latency_ms"), ("latency_ms=1e300", "latency_ms"),
    ("retry_after_s=inf", "retry_after_s"), ("throttle_every=99999999999999999999", "throttle_every"),
    ("token_error=999999999999", "token_error"),
    ("pwsh=die:Get-Mailboxx", "Get-Mailboxx"), ("pwsh=dei:Get-Mailbox", "dei:Get-Mailbox"),
    ("pwsh=version:seven", "version:seven"),
])
@pytest.mark.parametrize("command", ["emulator", "demo"])
def test_a_bad_fault_spec_is_refused_with_one_line(command: str, spec: str, naming: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = time.sleep

    def ctrl_c_when_serving(seconds: float) -> None:  # an accepted spec serves until Ctrl+C: press it at once
        if threading.current_thread() is threading.main_thread() and seconds >= 60:
            raise KeyboardInterrupt
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", ctrl_c_when_serving)
    with workspace() as folder:
        out = folder / "out"
        code, stdout, err = run_cli(command, "--faults", spec, *(("--out", str(out), "--quiet")
                                                                if command == "demo" else ()))
        refused("faults", code, stdout, err, out, naming)


def test_every_numeric_fault_key_has_a_documented_range() -> None:
    import dataclasses

    from auditor.emulator.faults import RANGES, FaultPlan

    plan = FaultPlan()
    numeric = {f.name for f in dataclasses.fields(FaultPlan)
               if f.name not in ("psrp_fail", "pwsh") and not isinstance(getattr(plan, f.name), bool)}
    assert numeric == set(RANGES)
