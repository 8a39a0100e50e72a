"""The scale benchmark: a full audit of a synthetic tenant served by the emulator at a given latency.

    python -m benchmarks.sweep --service-principals 10000 --mailboxes 50000 --integrations 50 --latency-ms 50 --json

generates the tenant (benchmarks/generate.py), serves it from a child process (benchmarks/emulator_process.py)
with that much latency on every HTTP request, then runs what `auditor demo` runs: collection (Graph and
Exchange over the real msal, requests and pypsrp clients), evaluation, and every report. It prints the
requests the emulator counted by route, the lower bound (benchmarks/bounds.py), the time of each phase and
the auditor's peak memory. `--naive` collects one request per object instead (benchmarks/naive.py);
`--compare-naive` runs both on the same tenant and says whether their findings agree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from auditor.collect.exchange_reader import read_exchange
from auditor.collect.run import collect
from auditor.demo import emulator_baseline, emulator_settings
from auditor.engine import evaluate
from auditor.models.baseline import Baseline, MailboxListing, load_baseline
from auditor.models.findings import Finding
from auditor.pipeline import build_document, write_reports
from auditor.reports.files import write_atomic
from benchmarks.bounds import POOL_COST
from benchmarks.emulator_process import EmulatorSpec, handle, serve
from benchmarks.generate import Sizes

FORMATS = ("json", "csv", "html", "junit")
STARTUP_TIMEOUT_S = 300


class Emulator:
    """The emulator child process: started with a spec, asked for its counters, stopped."""

    def __init__(self, spec: EmulatorSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child, spec), name="bench-emulator", daemon=True)
        self._process.start()
        child.close()
        try:
            if not self._conn.poll(STARTUP_TIMEOUT_S):
                raise RuntimeError(f"the emulator did not start within {STARTUP_TIMEOUT_S} s")
            self.info: dict[str, Any] = self._conn.recv()
        except EOFError:
            self.stop()
            raise RuntimeError(f"the emulator process ended before serving (exit code {self._process.exitcode}); "
                               "its error is above") from None
        except RuntimeError:
            self.stop()
            raise

    def ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send("stop")
            self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()


def audit(emulator: Emulator, base: Baseline, out: Path, naive: bool = False) -> tuple[dict[str, Any], list[Finding]]:
    """One full audit against the running emulator: the figures, and the findings for comparing runs."""
    server = handle(emulator.info)
    aimed, settings = emulator_baseline(base, server), emulator_settings(server)
    if naive:
        from benchmarks.naive import naive_collect
        aimed = replace(aimed, exchange=replace(aimed.exchange, pools=1))
        collector: Callable[[], Any] = lambda: naive_collect(aimed, settings)  # noqa: E731
    else:
        collector = lambda: collect(aimed, settings, read_exchange)  # noqa: E731
    emulator.ask("reset")
    emulator_cpu_started = emulator.ask("cpu")
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    snapshot = collector()
    collected = time.perf_counter()
    evaluation = evaluate(snapshot, aimed)
    evaluated = time.perf_counter()
    reports: dict[str, float] = {}
    write_atomic(out / "snapshot.json", snapshot.to_json())
    reports["snapshot"] = time.perf_counter() - evaluated
    document = build_document(snapshot, aimed, evaluation)
    for fmt in FORMATS:
        begun = time.perf_counter()
        write_reports(document, out, [fmt])
        reports[fmt] = time.perf_counter() - begun
    done = time.perf_counter()
    counters = emulator.ask("counters")
    bound = with_pools(emulator.info["lower_bounds"][base.exchange.listing.value], aimed.exchange.pools)
    requests = request_totals(counters)
    figures = {
        "mode": "naive" if naive else "optimised",
        "requests": requests,
        "lower_bound_requests": bound,
        "requests_over_lower_bound": round(requests["total"] / bound["total"], 3),
        "wall_s": round(done - started, 3),
        "collect_s": round(collected - started, 3),
        "collect_split_s": {"graph": snapshot.collection.get("graph_wall_s"),
                            "exchange": (snapshot.collection.get("exchange") or {}).get("wall_s")},
        "evaluate_s": round(evaluated - collected, 3),
        "report_s": round(done - evaluated, 3),
        "report_split_s": {k: round(v, 3) for k, v in reports.items()},
        "findings": evaluation.counts()["by_status"] | {"total": len(evaluation.findings)},
        "peak_rss_mb": peak_rss_mb(),
        "cpu_s": round(cpu_seconds() - cpu_started, 3),
        "emulator_cpu_s": round(emulator.ask("cpu") - emulator_cpu_started, 3),
        "pools": aimed.exchange.pools, "listing": aimed.exchange.listing.value,
    }
    return figures, list(evaluation.findings)


def request_totals(counters: dict[str, int]) -> dict[str, Any]:
    """HTTP requests by service (a $batch is one request; its items are listed under `batch:` routes)."""
    graph = sum(n for r, n in counters.items()
                if not r.startswith("batch:") and r.split(" ", 1)[-1].startswith("/v1.0"))
    wsman = counters.get("POST /wsman", 0)
    entra = sum(n for r, n in counters.items() if not r.startswith(("batch:", "psrp:", "wsman:"))
                and "/v1.0" not in r and "/wsman" not in r)
    return {"graph": graph, "wsman": wsman, "entra": entra, "total": graph + wsman + entra,
            "by_route": dict(sorted(counters.items()))}


def with_pools(bound: dict[str, Any], pools: int) -> dict[str, Any]:
    """The bound for `pools` runspace pools (the emulator derived it for the baseline's own number)."""
    wsman = dict(bound["detail"]["wsman"])
    delta = max(1, pools) * POOL_COST - wsman["pools"]
    wsman["pools"] += delta
    wsman["total"] += delta
    return {**bound, "wsman": bound["wsman"] + delta, "total": bound["total"] + delta,
            "detail": {**bound["detail"], "wsman": wsman}}


def cpu_seconds() -> float:
    """The auditor's own CPU time, user and system, all threads (on a shared machine: what it really needed)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """The auditor's own peak resident memory (the emulator lives in another process)."""
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux reports KiB
    return round(kilobytes / 1024, 1)


def comparable(findings: list[Finding]) -> list[tuple[Any, ...]]:
    """A finding without its provenance (naive reads name other sources) for comparing two collections."""
    return sorted((f.check_id, f.integration, f.resource, f.status.value, f.severity.value, f.message,
                   json.dumps(f.evidence, sort_keys=True, default=str), json.dumps(f.waiver, sort_keys=True))
                  for f in findings)


def with_exchange(base: Baseline, args: argparse.Namespace) -> Baseline:
    """The baseline with `--listing` and `--pools` applied ([exchange] listing and pools)."""
    changes: dict[str, Any] = {}
    if getattr(args, "listing", None):
        changes["listing"] = MailboxListing(args.listing)
    if getattr(args, "pools", None):
        changes["pools"] = args.pools
    return replace(base, exchange=replace(base.exchange, **changes)) if changes else base


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="auditor-bench-") as scratch:
        work = Path(args.work) if args.work else Path(scratch)
        sizes = None if args.tenant else Sizes(args.service_principals, args.mailboxes, args.integrations, args.seed)
        spec = EmulatorSpec(work, sizes, args.tenant, args.baseline, args.latency_ms)
        emulator = Emulator(spec)
        try:
            base = with_exchange(load_baseline(Path(emulator.info["baseline"])), args)
            result: dict[str, Any] = {
                "sizes": {"service_principals": args.service_principals, "mailboxes": args.mailboxes,
                          "integrations": args.integrations, "seed": args.seed} if sizes else
                {"tenant": str(args.tenant)},
                "latency_ms": args.latency_ms, "emulator_setup_s": emulator.info["setup_s"]}
            if args.compare_listing:
                chosen, fast = audit(emulator, base, work / "chosen")
                plain_base = with_exchange(base, argparse.Namespace(listing="plain", pools=None))
                plain, slow = audit(emulator, plain_base, work / "plain")
                result |= {"optimised": chosen, "plain": plain,
                           "findings_identical": comparable(fast) == comparable(slow)}
            elif args.compare_naive:
                optimised, fast = audit(emulator, base, work / "optimised")
                naive, slow = audit(emulator, base, work / "naive", naive=True)
                result |= {"optimised": optimised, "naive": naive,
                           "findings_identical": comparable(fast) == comparable(slow)}
            else:
                figures, _ = audit(emulator, base, work / "out", naive=args.naive)
                result |= figures
        finally:
            emulator.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--service-principals", type=int, default=1000)
    parser.add_argument("--mailboxes", type=int, default=5000)
    parser.add_argument("--integrations", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--tenant", type=Path, help="an existing tenant file instead of a generated one")
    parser.add_argument("--baseline", type=Path, help="the baseline for --tenant")
    parser.add_argument("--work", help="keep the tenant, snapshot and reports in this directory")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--naive", action="store_true", help="collect one request per object")
    mode.add_argument("--compare-naive", action="store_true", help="run both collections and compare findings")
    mode.add_argument("--compare-listing", action="store_true",
                      help="the chosen listing, then the plain one, on the same tenant; compare findings")
    parser.add_argument("--listing", choices=[m.value for m in MailboxListing],
                        help="[exchange] listing for this run (default: the baseline's)")
    parser.add_argument("--pools", type=int, help="[exchange] pools for this run (default: the baseline's)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (the default is a summary)")
    args = parser.parse_args(argv)
    if args.tenant and not args.baseline:
        parser.error("--tenant needs --baseline")
    try:
        result = run(args)
    except RuntimeError as exc:
        print(f"python -m benchmarks.sweep: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else summary(result))
    return 0


def summary(result: dict[str, Any]) -> str:
    lines = []
    for name, figures in ((k, result[k]) for k in ("optimised", "naive", "plain") if k in result) \
            if "optimised" in result \
            else [(result["mode"], result)]:
        req, bound = figures["requests"], figures["lower_bound_requests"]
        lines.append(f"{name}: {req['total']} requests (graph {req['graph']}, wsman {req['wsman']}, entra "
                     f"{req['entra']}) vs lower bound {bound['total']} = x{figures['requests_over_lower_bound']}; "
                     f"wall {figures['wall_s']} s (collect {figures['collect_s']}, evaluate {figures['evaluate_s']}, "
                     f"reports {figures['report_s']}); peak {figures['peak_rss_mb']} MB")
    if "findings_identical" in result:
        lines.append(f"findings identical: {result['findings_identical']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
