"""Drift between two runs (docs/scheduling.md) and --fail-on-new gating, on findings built in code."""

from __future__ import annotations

from auditor.engine import exit_code
from auditor.history.drift import compare, new_failures
from auditor.models.findings import RunRef, Severity, Status
from tests.history.support import finding

PREVIOUS = RunRef(collected_at="2026-05-31T12:00:00Z", tenant_id="t", baseline_file="b.toml", run_id=1)
P, F, E, S, W = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP, Status.WAIVED


def keyed(entries) -> set[tuple[str, str | None, str | None]]:
    return {(e.resource, e.before.value if e.before else None, e.after.value if e.after else None) for e in entries}


def test_each_kind_of_drift_by_identity():
    old = [finding("GRP-002", "fixed@x", F), finding("GRP-002", "broken@x", P), finding("GRP-002", "same@x", F),
           finding("GRP-003", "gone-fail@x", F), finding("GRP-003", "gone-pass@x", P),
           finding("CRED-005", "waived-now", F), finding("SCOPE-004", "lost-sight", F)]
    new = [finding("GRP-002", "fixed@x", P), finding("GRP-002", "broken@x", F), finding("GRP-002", "same@x", F),
           finding("GRP-003", "appeared-fail@x", F), finding("SCOPE-005", "new-canary@x", P),
           finding("CRED-005", "waived-now", W), finding("SCOPE-004", "lost-sight", E)]
    drift = compare(old, new, PREVIOUS)
    assert keyed(drift.new) == {("broken@x", "PASS", "FAIL"), ("appeared-fail@x", None, "FAIL")}
    assert keyed(drift.resolved) == {("fixed@x", "FAIL", "PASS"), ("gone-fail@x", "FAIL", None)}
    assert keyed(drift.changed) == {("waived-now", "FAIL", "WAIVED"), ("lost-sight", "FAIL", "ERROR")}
    assert drift.unchanged == 1
    assert drift.previous == PREVIOUS


def test_a_new_passing_finding_is_not_drift():
    drift = compare([finding("SCOPE-005", "a@x", P)], [finding("SCOPE-005", "a@x", P),
                                                        finding("SCOPE-005", "sampled@x", P),
                                                        finding("SCOPE-005", "skipped@x", S)], PREVIOUS)
    assert (drift.new, drift.resolved, drift.changed, drift.unchanged) == ((), (), (), 1)


def test_error_to_fail_is_new_because_no_earlier_run_reported_the_failure():
    drift = compare([finding("GRP-001", "g@x", E)], [finding("GRP-001", "g@x", F)], PREVIOUS)
    assert keyed(drift.new) == {("g@x", "ERROR", "FAIL")}
    assert new_failures(drift) == {("GRP-001", "Contact Center", "g@x")}


def test_an_expired_waiver_makes_its_fail_new_again():
    drift = compare([finding("CRED-005", "app", W)], [finding("CRED-005", "app", F)], PREVIOUS)
    assert keyed(drift.new) == {("app", "WAIVED", "FAIL")}


def test_without_an_earlier_run_every_fail_and_error_is_new():
    drift = compare([], [finding("A-1", "a", F), finding("A-1", "b", E), finding("A-1", "c", P)], None)
    assert drift.previous is None and keyed(drift.new) == {("a", None, "FAIL"), ("b", None, "ERROR")}


def test_same_integration_and_resource_under_another_check_is_another_finding():
    drift = compare([finding("GRP-002", "a@x", F)], [finding("MBX-001", "a@x", F)], PREVIOUS)
    assert keyed(drift.new) == {("a@x", None, "FAIL")} and keyed(drift.resolved) == {("a@x", "FAIL", None)}


def test_entries_come_most_severe_first_in_a_stable_order():
    new = [finding("B-1", "z", F, Severity.LOW), finding("A-1", "y", F, Severity.CRITICAL),
           finding("A-1", "x", F, Severity.CRITICAL)]
    assert [e.resource for e in compare([], new, None).new] == ["x", "y", "z"]


def test_fail_on_new_gates_only_on_new_fails_at_or_above_the_threshold():
    old = [finding("A-1", "known", F, Severity.CRITICAL)]
    known_only = [finding("A-1", "known", F, Severity.CRITICAL)]
    new_low = [*known_only, finding("A-1", "fresh", F, Severity.LOW)]
    new_critical = [*known_only, finding("A-1", "fresh", F, Severity.CRITICAL)]
    for now, fail_on, expected in ((known_only, Severity.LOW, 0), (new_low, Severity.HIGH, 0),
                                   (new_low, Severity.LOW, 1), (new_critical, Severity.CRITICAL, 1)):
        drift = compare(old, now, PREVIOUS)
        assert exit_code(now, fail_on, new_failures(drift)) == expected, (now, fail_on)
        assert exit_code(now, fail_on) == 1  # without --fail-on-new the known FAIL alone fails


def test_an_error_still_exits_3_with_fail_on_new():
    now = [finding("A-1", "known", F), finding("A-1", "unknown", E)]
    drift = compare(now, now, PREVIOUS)
    assert exit_code(now, Severity.LOW, new_failures(drift)) == 3
