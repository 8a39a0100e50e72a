"""The report benchmark: how long each report format takes for a large findings document.

    python -m benchmarks.render --findings 35000 --json

audits a generated tenant (`benchmarks.sweep` in a child process, at no latency; `--work DIR` reuses a kept
sweep's directory, `--snapshot FILE --baseline FILE` any snapshot), repeats its findings until there are
`--findings` of them (each copy with its own resource, as a larger tenant would give), then writes every report
format one after the other into a scratch directory, as `auditor.pipeline.write_reports` does in a run, and
prints each format's seconds and bytes and their total. Each writer runs once, cold, in this process: the template
compilation is part of its figure, as it is in an audit; the writers' imports (pandas, jinja2, ...) are timed
apart (`imports_s`), since write_reports loads four of them whichever format comes first. `seconds` is wall
time, `cpu_s` this process's CPU time: on a shared machine the second says what the writer needed.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import importlib
import json
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from auditor.engine import evaluate
from auditor.errors import AuditorError
from auditor.models.baseline import load_baseline
from auditor.models.findings import FindingsDocument
from auditor.models.snapshot import load_snapshot
from auditor.pipeline import build_document, write_reports
from auditor.reports.file_names import FILE_NAMES

DEFAULT_FORMATS = ("json", "csv", "html", "junit", "markdown", "ps1")
"""The formats an audit writes without --format (auditor/commands/options.py)."""
ALL_FORMATS = (*DEFAULT_FORMATS, "xlsx", "ocsf")
WRITER_MODULES = {"json": "json_report", "csv": "csv_report", "html": "html_report", "junit": "junit_report",
                  "markdown": "markdown_report", "ps1": "ps1_report", "xlsx": "xlsx_report", "ocsf": "ocsf_report"}


def repeated(document: FindingsDocument, count: int) -> FindingsDocument:
    """`document` with `count` findings: its own cycled, each copy with its own resource."""
    own = document.findings
    if not own:
        raise RuntimeError("the audit gave no finding to repeat")
    many = tuple(dataclasses.replace(own[i % len(own)], resource=f"{own[i % len(own)].resource}#{i // len(own)}")
                 for i in range(count))
    return dataclasses.replace(document, findings=many)


def document_of(snapshot_file: Path, baseline_file: Path, count: int) -> FindingsDocument:
    snapshot, base = load_snapshot(snapshot_file), load_baseline(baseline_file)
    return repeated(build_document(snapshot, base, evaluate(snapshot, base)), count)


def generated(work: Path, sizes: tuple[int, int, int]) -> None:
    """A sweep of a generated tenant at no latency, kept in `work` (work/out/snapshot.json, work/baseline.toml)."""
    sps, mailboxes, integrations = sizes
    argv = [sys.executable, "-m", "benchmarks.sweep", "--service-principals", str(sps), "--mailboxes",
            str(mailboxes), "--integrations", str(integrations), "--latency-ms", "0", "--json", "--work", str(work)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed: {done.stderr.strip()[-500:]}")


def time_reports(document: FindingsDocument, formats: tuple[str, ...], profile: str | None = None) -> dict[str, Any]:
    """Each format written once, in order, into a scratch directory: its seconds and its file's bytes."""
    started = time.perf_counter()
    _import_writers(formats)
    imports = round(time.perf_counter() - started, 3)
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="auditor-render-") as scratch:
        out = Path(scratch)
        for fmt in formats:
            profiler = cProfile.Profile() if fmt == profile else None
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            write_reports(document, out, [fmt])
            if profiler:
                profiler.disable()
            seconds[fmt] = round(time.perf_counter() - started, 3)
            cpu[fmt] = round(time.process_time() - cpu_started, 3)
            if profiler:
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    return {"findings": len(document.findings),
            "by_status": dict(sorted(Counter(f.status.value for f in document.findings).items())),
            "imports_s": imports, "seconds": seconds, "total_s": round(sum(seconds.values()), 3),
            "cpu_s": cpu, "total_cpu_s": round(sum(cpu.values()), 3), "bytes": sizes}


def _import_writers(formats: tuple[str, ...]) -> None:
    """The writers' modules (pandas, jinja2, openpyxl...) loaded before the clock starts: write_reports imports
    four of them whichever format comes first, which would charge them all to that one."""
    for fmt in dict.fromkeys(("json", "csv", "html", "junit", *formats)):
        importlib.import_module(f"auditor.reports.{WRITER_MODULES[fmt]}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    formats = tuple(args.formats.split(",")) if args.formats else DEFAULT_FORMATS
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown:
        raise RuntimeError(f"unknown format {unknown[0]!r} (one of {', '.join(ALL_FORMATS)})")
    with tempfile.TemporaryDirectory(prefix="auditor-render-src-") as scratch:
        if args.snapshot:
            source: dict[str, Any] = {"snapshot": str(args.snapshot)}
            document = document_of(args.snapshot, args.baseline, args.findings)
        else:
            work = Path(args.work) if args.work else Path(scratch)
            sizes = (args.service_principals, args.mailboxes, args.integrations)
            if not (work / "out" / "snapshot.json").exists():
                generated(work, sizes)
                source = {"generated": dict(zip(("service_principals", "mailboxes", "integrations"), sizes,
                                                strict=True))}
            else:
                source = {"work": str(work)}
            document = document_of(work / "out" / "snapshot.json", work / "baseline.toml", args.findings)
    source["distinct_findings"] = len({f.identity for f in document.findings})
    return {"source": source, **time_reports(document, formats, args.profile)}


def summary(result: dict[str, Any]) -> str:
    statuses = ", ".join(f"{n} {s}" for s, n in result["by_status"].items())
    lines = [f"reports of {result['findings']:,} findings ({statuses})"]
    for fmt, seconds in result["seconds"].items():
        megabytes = result["bytes"].get(FILE_NAMES[fmt], 0) / 1e6
        lines.append(f"  {fmt:<9} {seconds:7.3f} s  (cpu {result['cpu_s'][fmt]:6.3f} s)  {megabytes:8.1f} MB")
    lines.append(f"  {'total':<9} {result['total_s']:7.3f} s  (cpu {result['total_cpu_s']:6.3f} s)  "
                 f"and {result['imports_s']} s importing the writers")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=35000, help="how many findings to render (default 35000)")
    parser.add_argument("--formats", help=f"comma-separated (default: {','.join(DEFAULT_FORMATS)}; also xlsx, ocsf)")
    parser.add_argument("--service-principals", type=int, default=1000, help="the generated tenant (default 1000)")
    parser.add_argument("--mailboxes", type=int, default=5000, help="the generated tenant (default 5000)")
    parser.add_argument("--integrations", type=int, default=50, help="the generated tenant (default 50)")
    parser.add_argument("--work", help="a sweep's --work directory to reuse (or keep the generated one in)")
    parser.add_argument("--snapshot", type=Path, help="any snapshot.json instead of a generated tenant")
    parser.add_argument("--baseline", type=Path, help="the baseline for --snapshot")
    parser.add_argument("--profile", metavar="FORMAT", help="cProfile this format's writer (stats on stderr)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (the default is a table)")
    args = parser.parse_args(argv)
    if bool(args.snapshot) != bool(args.baseline):
        parser.error("--snapshot and --baseline go together")
    if args.findings < 1:
        parser.error("--findings must be at least 1")
    try:
        result = run(args)
    except (RuntimeError, OSError, AuditorError) as exc:
        print(f"python -m benchmarks.render: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
