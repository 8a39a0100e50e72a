"""Runs with history as a user drives them: two demo runs with the tenant changed in between, drift in the
CLI, findings.json and report.html; --fail-on-new; `auditor history`; `auditor diff` on files and run ids."""

from __future__ import annotations

import json
import re

import pytest

from auditor.cli import main
from auditor.demo import DEMO_TENANT

NEW_APP = "99999999-0000-4000-8000-000000000099"
GRAPH = "00000003-0000-0000-c000-000000000000"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([*args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def changed_tenant(path) -> None:
    """The demo tenant after a week: a queue mailbox dropped from Contact Center's scope group, a new app holding
    Mail.Read with no access policy, and the CFO's mailbox taken out of the Ticketing group (a fix)."""
    doc = json.loads(DEMO_TENANT.read_text())
    groups = {g["PrimarySmtpAddress"]: g for g in doc["exchange"]["distributionGroups"]}
    groups["cctr_sec_group@contoso.com"]["Members"].remove("sales@contoso.com")
    groups["tickets_group@contoso.com"]["Members"].remove("cfo@contoso.com")
    graph = doc["graph"]
    graph["applications"].append({
        "id": "99999999-0000-4000-8000-00000000a001", "appId": NEW_APP, "displayName": "Newsletter <b>",
        "requiredResourceAccess": [{"resourceAppId": GRAPH, "resourceAccess": [{"id": "Mail.Read", "type": "Role"}]}],
        "passwordCredentials": [], "keyCredentials": [], "owners": []})
    graph["servicePrincipals"].append({
        "id": "99999999-0000-4000-8000-00000000b001", "appId": NEW_APP, "displayName": "Newsletter <b>",
        "accountEnabled": True, "passwordCredentials": [], "keyCredentials": []})
    graph["appRoleAssignments"].append({
        "id": "99999999-0000-4000-8000-00000000c001", "principalId": "99999999-0000-4000-8000-00000000b001",
        "principalType": "ServicePrincipal", "resourceId": GRAPH, "appRoleId": "Mail.Read",
        "createdDateTime": "now-1d"})
    path.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """The demo twice unchanged, then changed; each with --history and --fail-on-new."""
    tmp = tmp_path_factory.mktemp("runs")
    changed_tenant(tmp / "changed.json")
    db = str(tmp / "history.sqlite")
    results = []
    for name, tenant in (("first", DEMO_TENANT), ("same", DEMO_TENANT), ("changed", tmp / "changed.json")):
        with pytest.raises(SystemExit) as exc:
            main(["demo", "--tenant", str(tenant), "--history", db, "--out", str(tmp / name), "--quiet",
                  "--fail-on-new"])
        results.append(int(exc.value.code))
    return tmp, db, results


def identities(entries) -> set[tuple[str, str, str | None, str | None]]:
    return {(e["check_id"], e["resource"], e["before"], e["after"]) for e in entries}


def test_fail_on_new_fails_the_first_run_passes_an_unchanged_one_and_fails_on_new_failures(three_runs):
    _, _, codes = three_runs
    assert codes == [1, 0, 1]


def test_the_changes_show_as_new_and_the_fix_as_resolved_in_findings_json(three_runs):
    tmp, _, _ = three_runs
    drift = json.loads((tmp / "changed" / "findings.json").read_text())["drift"]
    assert drift["previous_run"]["run_id"] == 2
    assert identities(drift["new"]) == {
        ("GRP-002", "sales@contoso.com", "PASS", "FAIL"),
        ("SCOPE-004", "sales@contoso.com", "PASS", "FAIL"),
        ("TEN-001", NEW_APP, None, "FAIL"),
    }
    assert identities(drift["resolved"]) == {("GRP-003", "cfo@contoso.com", "FAIL", None)}
    assert drift["changed"] == [] and drift["counts"]["new"] == 3
    same = json.loads((tmp / "same" / "findings.json").read_text())["drift"]
    assert same["counts"] == {"new": 0, "resolved": 0, "changed": 0, "unchanged": 218}


def test_the_report_shows_what_changed_since_the_last_run_and_the_trend(three_runs):
    tmp, _, _ = three_runs
    html = (tmp / "changed" / "report.html").read_text()
    since = html[html.index('<section id="since"'):html.index("</section>", html.index('<section id="since"'))]
    new = since[since.index('id="drift-new"'):since.index('id="drift-resolved"')]
    assert new.count('<tr class="drift-row') == 3 and "sales@contoso.com" in new and NEW_APP in new
    assert "Newsletter &lt;b&gt;" in new and "Newsletter <b>" not in html
    resolved = since[since.index('id="drift-resolved"'):since.index('id="drift-changed"')]
    assert resolved.count('<tr class="drift-row') == 1 and "cfo@contoso.com" in resolved
    assert "Compared with run 2" in since
    # One column per stored run plus this one, critical failures stacked at the bottom.
    assert since.count('<g class="trend-run">') == 3
    assert len(re.findall(r'class="trend-critical"', since)) >= 3
    first = (tmp / "first" / "report.html").read_text()
    assert "first recorded run of this tenant and baseline" in first


def test_history_lists_runs_with_counts_filtered_by_tenant_and_limited(three_runs, capsys):
    _, db, _ = three_runs
    code, out, _ = run(capsys, "history", "--history", db)
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].split()[:4] == ["RUN", "COLLECTED", "TENANT", "BASELINE"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == ["3", "2", "1"]
    header = lines[0].split()
    latest = dict(zip(header, rows[0], strict=True))
    assert latest["FAIL"] == "59" and latest["CRIT"] == "33" and latest["NEW"] == "3" and latest["RESOLVED"] == "1"
    assert dict(zip(header, rows[1], strict=True))["NEW"] == "0"

    code, out, _ = run(capsys, "history", "--history", db, "--tenant", "CONTOSO.onmicrosoft.com", "--limit", "1",
                       "--format", "json")
    listed = json.loads(out)
    assert code == 0 and [r["id"] for r in listed] == [3] and listed[0]["summary"]["by_status"]["FAIL"] == 59
    code, out, _ = run(capsys, "history", "--history", db, "--tenant", "fabrikam")
    assert code == 0 and out.startswith("no runs recorded for fabrikam")


def test_diff_of_two_run_ids_and_of_two_findings_files_agree(three_runs, capsys, tmp_path):
    tmp, db, _ = three_runs
    code, out, _ = run(capsys, "diff", "2", "3", "--history", db, "--out", str(tmp_path / "ids.json"))
    assert code == 0
    assert "3 new, 1 resolved, 0 changed, 215 unchanged" in out
    assert re.search(r"^NEW\s+PASS -> FAIL\s+high\s+GRP-002\s+Contact Center: sales@contoso.com", out, re.M)
    assert re.search(r"^RESOLVED\s+FAIL -> absent\s+high\s+GRP-003\s+Ticketing: cfo@contoso.com", out, re.M)
    by_id = json.loads((tmp_path / "ids.json").read_text())
    assert by_id["old_run"]["run_id"] == 2 and by_id["new_run"]["run_id"] == 3

    code, out, _ = run(capsys, "diff", str(tmp / "same" / "findings.json"), str(tmp / "changed" / "findings.json"),
                       "--out", str(tmp_path / "files.json"))
    by_file = json.loads((tmp_path / "files.json").read_text())
    assert code == 0 and by_file["old_run"]["source"].endswith("findings.json")
    for key in ("counts", "new", "resolved", "changed"):
        assert by_file[key] == by_id[key], key


def test_diff_of_something_that_is_neither_file_nor_run_is_one_clear_line(tmp_path, capsys, three_runs):
    _, db, _ = three_runs
    code, _, err = run(capsys, "diff", str(tmp_path / "nope.json"), "1", "--history", db, "-o", str(tmp_path / "d"))
    assert code == 2 and "nope.json: no such file, and not a history run id" in err
    code, _, err = run(capsys, "diff", "1", "999", "--history", db, "-o", str(tmp_path / "d"))
    assert code == 2 and "no run 999 in the history" in err and len(err.strip().splitlines()) == 1


def test_contradictory_history_options_are_usage_errors(tmp_path, capsys):
    code, _, err = run(capsys, "demo", "--no-history", "--fail-on-new", "--out", str(tmp_path / "o"))
    assert code == 2 and "--fail-on-new compares with the last run" in err
    code, _, err = run(capsys, "demo", "--fail-on-new", "--out", str(tmp_path / "o"))
    assert code == 2 and "give --history PATH" in err
    code, _, err = run(capsys, "demo", "--no-history", "--history", str(tmp_path / "h"), "--out", str(tmp_path / "o"))
    assert code == 2 and "choose one" in err
    assert not (tmp_path / "o").exists()


def test_with_history_off_findings_json_has_no_history_keys_and_is_byte_identical(tmp_path, capsys):
    from tests.history.support import BASELINE, SNAPSHOT

    for name in ("a", "b"):
        run(capsys, "evaluate", str(SNAPSHOT), "--baseline", str(BASELINE), "--out", str(tmp_path / name))
    a, b = (tmp_path / "a" / "findings.json").read_bytes(), (tmp_path / "b" / "findings.json").read_bytes()
    assert a == b
    assert not {"drift", "history"} & set(json.loads(a))
