"""The report benchmark at a small count: the fields it promises and the files it measured (no time asserted)."""

from __future__ import annotations

import json

from benchmarks.render import DEFAULT_FORMATS, main
from samples import SAMPLES_DIR

SAMPLE = ["--snapshot", str(SAMPLES_DIR / "snapshots" / "sample-snapshot.json"),
          "--baseline", str(SAMPLES_DIR / "baselines" / "sample.toml")]


def test_the_render_benchmark_prints_every_default_formats_figures(capsys):
    assert main([*SAMPLE, "--findings", "250", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["findings"] == 250 and sum(result["by_status"].values()) == 250
    assert result["source"]["distinct_findings"] == 250  # every copy is a finding of its own
    assert list(result["seconds"]) == list(result["cpu_s"]) == list(DEFAULT_FORMATS)
    assert set(result["bytes"]) == {"findings.json", "findings.csv", "report.html", "junit.xml", "summary.md",
                                    "remediation.ps1"}
    assert all(size > 0 for size in result["bytes"].values())
    assert result["total_s"] >= max(result["seconds"].values()) > 0


def test_the_table_names_each_chosen_format_and_the_total(capsys):
    assert main([*SAMPLE, "--findings", "40", "--formats", "html,xlsx"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("reports of 40 findings (")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["html", "xlsx", "total"]


def test_an_unknown_format_is_one_line_and_exit_2(capsys):
    assert main([*SAMPLE, "--findings", "10", "--formats", "html,pdf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'pdf'" in err
