"""The bundled sample snapshot exercises every check both ways and stays in step with its generator."""

import json
from collections import defaultdict

from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from auditor.models.findings import Status
from auditor.models.snapshot import load_snapshot
from samples import SAMPLES_DIR
from tests import make_samples

SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
BASELINE = SAMPLES_DIR / "baselines" / "sample.toml"
FAIL_ONLY = {"TEN-004"}  # holders of full_access_as_app fail; apps without it get no finding


def test_sample_snapshot_is_what_the_generator_builds():
    assert json.loads(SNAPSHOT.read_text()) == make_samples.build().to_dict(), \
        "stale sample: run `python -m tests.make_samples`"


def test_sample_exercises_every_check_both_ways_with_no_error():
    result = evaluate(load_snapshot(SNAPSHOT), load_baseline(BASELINE))
    seen: dict[str, set[Status]] = defaultdict(set)
    for f in result.findings:
        seen[f.check_id].add(f.status)
    assert Status.ERROR not in set().union(*seen.values())
    for check_id, statuses in seen.items():
        expected = {Status.FAIL} if check_id in FAIL_ONLY else {Status.PASS, Status.FAIL}
        assert expected <= statuses, (check_id, statuses)
    assert len(seen) == 31
    waived = [f for f in result.findings if f.status is Status.WAIVED]
    assert [(f.check_id, f.resource) for f in waived] == [("TEN-003", "ffffffff-0000-4000-8000-000000000010")]
    expired = [f for f in result.findings if f.waiver and f.waiver["expired"]]
    assert [(f.check_id, f.status) for f in expired] == [("CRED-005", Status.FAIL)]
