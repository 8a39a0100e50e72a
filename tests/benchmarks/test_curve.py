"""The cost curve's entry point at one tiny point: the fields it promises and the plot it draws (no time)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from benchmarks.curve import main


def test_the_curve_writes_its_points_a_plot_and_the_render_figures(tmp_path, capsys):
    out = tmp_path / "curve"
    assert main(["--sizes", "50/100", "--latencies", "0", "--render-at", "50/100", "--render-findings", "300",
                 "--out", str(out), "--sweep-args", "--integrations 2"]) == 0
    result = json.loads((out / "curve.json").read_text())
    [point] = result["points"]
    assert {"wall_s", "requests", "lower_bound", "peak_rss_mb", "graph_s", "exchange_s", "evaluate_s",
            "report_s"} <= set(point)
    assert point["lower_bound"] <= point["requests"] <= 1.25 * point["lower_bound"]
    assert result["render"]["findings"] == 300 and set(result["render"]["seconds"]) == {"json", "csv", "html",
                                                                                        "junit"}
    plot = ET.parse(out / "curve.svg").getroot()
    assert plot.tag.endswith("svg") and len(plot.findall(".//{http://www.w3.org/2000/svg}circle")) == 3
    assert "| 50 / 100 | 0 ms |" in capsys.readouterr().out
