"""The benchmark entry point at a tiny size: the figures it promises, and requests near the lower bound."""

from __future__ import annotations

import json

import pytest

from benchmarks.sweep import main

TINY = ["--service-principals", "50", "--mailboxes", "100", "--integrations", "2", "--latency-ms", "0"]
FIELDS = {"requests", "lower_bound_requests", "wall_s", "collect_s", "evaluate_s", "report_s", "peak_rss_mb"}


def test_the_sweep_prints_its_figures_as_json(capsys, tmp_path):
    assert main([*TINY, "--json", "--work", str(tmp_path)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) >= FIELDS
    requests, bound = figures["requests"], figures["lower_bound_requests"]
    assert requests["by_route"]["POST /wsman"] == requests["wsman"] > 0
    assert any(route.startswith("GET /v1.0/servicePrincipals") for route in requests["by_route"])
    assert bound["total"] <= requests["total"] <= 1.25 * bound["total"]
    assert figures["wall_s"] >= figures["collect_s"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["findings"]["ERROR"] == 0 and figures["findings"]["total"] > 0
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"report.html", "findings.json", "snapshot.json"}


def test_the_naive_collection_costs_more_requests_and_reaches_the_same_findings(capsys):
    assert main([*TINY, "--compare-naive", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["findings_identical"] is True
    assert result["naive"]["requests"]["total"] > result["optimised"]["requests"]["total"]
    assert result["naive"]["mode"] == "naive" and set(result["naive"]) >= FIELDS


@pytest.mark.parametrize("sizes", [("50", "100", "2"), ("120", "700", "6")])
def test_the_partitioned_listing_reaches_the_plain_listings_canaries_and_findings(capsys, tmp_path, sizes):
    sps, mailboxes, integrations = sizes
    argv = ["--service-principals", sps, "--mailboxes", mailboxes, "--integrations", integrations,
            "--latency-ms", "0", "--compare-listing", "--json", "--work", str(tmp_path)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["findings_identical"] is True
    chosen, plain = (json.loads((tmp_path / d / "snapshot.json").read_text()) for d in ("chosen", "plain"))
    assert chosen["sections"]["canaries"]["data"] == plain["sections"]["canaries"]["data"]
    routes = result["optimised"]["requests"]["by_route"]
    assert routes.get("psrp:Get-EXOMailbox", 0) == 11 and result["plain"]["requests"]["by_route"].get(
        "psrp:Get-EXOMailbox", 0) == 1
    for figures in (result["optimised"], result["plain"]):
        bound = figures["lower_bound_requests"]["total"]
        assert bound <= figures["requests"]["total"] <= 1.25 * bound
