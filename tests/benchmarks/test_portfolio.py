"""The portfolio benchmark's entry point on a tiny portfolio: the fields it promises, and that the merged shards
equal the one run (no time is asserted)."""

from __future__ import annotations

import json

from benchmarks.portfolio import main


def test_the_portfolio_benchmark_reports_throughput_and_checks_the_merged_shards(tmp_path, capsys, monkeypatch):
    for name in ("AUDITOR_CLIENT_SECRET", "AUDITOR_PSRP_PASSWORD", "AZURE_CLIENT_SECRET"):
        monkeypatch.setenv(name, "overwritten")  # the benchmark sets its tenants' own: recorded, so undone after
    assert main(["--tenants", "6", "--service-principals", "20", "--mailboxes", "60", "--integrations", "2",
                 "--latency-ms", "0", "--shards", "2", "--emulator-processes", "1", "--work", str(tmp_path),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    one = result["one_run"]
    assert result["tenants"] == 6 and result["concurrency"] == 4 and result["default_concurrency"] is True
    assert {"wall_s", "tenants_per_minute", "peak_rss_mb", "cpu_s", "emulator_cpu_s", "requests",
            "requests_per_tenant"} <= set(one)
    assert sum(one["verdicts"].values()) == 6 and "not-audited" not in one["verdicts"]
    assert one["requests"]["entra"] >= 6 and one["requests"]["wsman"] > 0  # every tenant signed in and was read
    shards = result["shards"]
    assert shards["count"] == 2 and [r["shard"] for r in shards["runs"]] == ["1/2", "2/2"]
    assert sum(r["tenants"] for r in shards["runs"]) == 6
    assert shards["merged_equals_one_run"] is True and shards["merged_exit_code"] == one["exit_code"]
    assert (tmp_path / "merged" / "portfolio.html").exists()
