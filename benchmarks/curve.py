"""The cost curve: wall time, requests and peak memory of a full audit as the tenant grows.

    python -m benchmarks.curve --out benchmarks-out

runs `benchmarks.sweep` (one child process per point, so each point's peak memory is its own) at 1,000 / 5,000,
10,000 / 50,000 and 30,000 / 200,000 service principals / mailboxes (50 integrations), at 0 and 50 ms latency,
then times the reports of 35,000 findings (the 10,000 / 50,000 run's findings repeated with distinct
resources). It writes curve.json and curve.svg (drawn here: no plotting library) into --out and prints a table.
The big points take minutes; run it by hand, not in CI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.render import document_of, time_reports
from benchmarks.sweep import FORMATS

SIZES = ((1000, 5000), (10000, 50000), (30000, 200000))
LATENCIES = (0.0, 50.0)
RENDER_FINDINGS = 35000


def point(sps: int, mailboxes: int, latency: float, work: Path, extra: list[str]) -> dict[str, Any]:
    """One sweep in a child process: its figures (`--json`)."""
    argv = [sys.executable, "-m", "benchmarks.sweep", "--service-principals", str(sps), "--mailboxes",
            str(mailboxes), "--latency-ms", str(latency), "--json", "--work", str(work), *extra]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed: {done.stderr.strip()[-500:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def render_many(work: Path, count: int = RENDER_FINDINGS) -> dict[str, Any]:
    """The reports of `count` findings: a run's own findings repeated, each copy with its own resource
    (benchmarks/render.py, which also times the other formats)."""
    document = document_of(work / "out" / "snapshot.json", next(work.glob("baseline*.toml")), count)
    return time_reports(document, FORMATS)


def row(figures: dict[str, Any]) -> dict[str, Any]:
    size = figures["sizes"]
    return {"service_principals": size["service_principals"], "mailboxes": size["mailboxes"],
            "latency_ms": figures["latency_ms"], "wall_s": figures["wall_s"], "cpu_s": figures.get("cpu_s"),
            "collect_s": figures["collect_s"], "graph_s": figures["collect_split_s"]["graph"],
            "exchange_s": figures["collect_split_s"]["exchange"], "evaluate_s": figures["evaluate_s"],
            "report_s": figures["report_s"], "requests": figures["requests"]["total"],
            "lower_bound": figures["lower_bound_requests"]["total"],
            "requests_over_lower_bound": figures["requests_over_lower_bound"],
            "peak_rss_mb": figures["peak_rss_mb"], "findings": figures["findings"]["total"],
            "pools": figures.get("pools"), "listing": figures.get("listing")}


# -- the plot -------------------------------------------------------------------------------------------

W, H, PAD = 720, 300, 48
COLOURS = {0.0: "#1f77b4", 50.0: "#d62728"}


def _panel(x0: float, title: str, points: list[dict[str, Any]], key: str, unit: str) -> list[str]:
    """One small panel: `key` against mailboxes, a line per latency, linear axes from zero."""
    width = (W - 4 * PAD) / 3
    top = max((p[key] for p in points), default=1) or 1
    right = max(p["mailboxes"] for p in points)
    out = [f'<text x="{x0 + width / 2:.0f}" y="18" text-anchor="middle" font-size="13">{title} ({unit})</text>',
           f'<line x1="{x0}" y1="{H - PAD}" x2="{x0 + width}" y2="{H - PAD}" stroke="#444"/>',
           f'<line x1="{x0}" y1="{PAD - 14}" x2="{x0}" y2="{H - PAD}" stroke="#444"/>',
           f'<text x="{x0 - 4}" y="{PAD - 10}" text-anchor="end" font-size="10">{top:g}</text>',
           f'<text x="{x0 + width}" y="{H - PAD + 14}" text-anchor="end" font-size="10">{right:,} mailboxes</text>']

    def xy(p: dict[str, Any]) -> tuple[float, float]:
        return (x0 + width * p["mailboxes"] / right, H - PAD - (H - 2 * PAD + 14) * p[key] / top)

    for latency, colour in COLOURS.items():
        line = sorted((p for p in points if p["latency_ms"] == latency), key=lambda p: p["mailboxes"])
        if not line:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, line))
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in map(xy, line)]
    return out


def svg(points: list[dict[str, Any]]) -> str:
    width = (W - 4 * PAD) / 3
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H + 20}" font-family="sans-serif">',
             '<rect width="100%" height="100%" fill="white"/>']
    for i, (key, title, unit) in enumerate((("wall_s", "wall", "s"), ("requests", "requests", "n"),
                                            ("peak_rss_mb", "peak memory", "MB"))):
        parts += _panel(PAD + i * (width + PAD), title, points, key, unit)
    parts += [f'<text x="{PAD + 200 * i}" y="{H + 10}" font-size="11" fill="{c}">{latency:g} ms latency</text>'
              for i, (latency, c) in enumerate(COLOURS.items())]
    return "\n".join([*parts, "</svg>"]) + "\n"


def table(points: list[dict[str, Any]]) -> str:
    head = ("| SPs / mailboxes | latency | wall s | Graph s | Exchange s | evaluate s | reports s | requests (bound) "
            "| peak MB |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p['service_principals']:,} / {p['mailboxes']:,} | {p['latency_ms']:g} ms | {p['wall_s']} | "
                     f"{p['graph_s']} | {p['exchange_s']} | {p['evaluate_s']} | {p['report_s']} | "
                     f"{p['requests']} ({p['lower_bound']}) | {p['peak_rss_mb']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.curve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks-out"), help="where curve.json and .svg go")
    parser.add_argument("--sizes", help="SPs/mailboxes pairs, e.g. 1000/5000,10000/50000 (default: the three)")
    parser.add_argument("--latencies", help="comma-separated milliseconds (default: 0,50)")
    parser.add_argument("--sweep-args", default="", help="more options for every sweep, e.g. '--listing plain'")
    parser.add_argument("--render-at", default="10000/50000", help="the size whose findings are repeated")
    parser.add_argument("--render-findings", type=int, default=RENDER_FINDINGS, help="how many findings to render")
    args = parser.parse_args(argv)
    sizes = [tuple(int(n) for n in pair.split("/")) for pair in args.sizes.split(",")] if args.sizes else SIZES
    latencies = [float(n) for n in args.latencies.split(",")] if args.latencies else LATENCIES
    args.out.mkdir(parents=True, exist_ok=True)
    points: list[dict[str, Any]] = []
    render: dict[str, Any] | None = None
    try:
        for sps, mailboxes in sizes:
            for latency in latencies:
                with tempfile.TemporaryDirectory(prefix="auditor-curve-") as scratch:
                    points.append(row(point(sps, mailboxes, latency, Path(scratch), args.sweep_args.split())))
                    if render is None and f"{sps}/{mailboxes}" == args.render_at:
                        render = render_many(Path(scratch), args.render_findings)
                print(table(points[-1:]).splitlines()[-1], flush=True)
    except RuntimeError as exc:
        print(f"python -m benchmarks.curve: {exc}", file=sys.stderr)
        return 2
    result = {"points": points, "render": render}
    (args.out / "curve.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "curve.svg").write_text(svg(points), encoding="utf-8")
    print(table(points))
    if render:
        print(f"reports of {render['findings']:,} findings: {render['seconds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
