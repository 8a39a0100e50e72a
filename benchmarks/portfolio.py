"""The portfolio benchmark: many small generated tenants audited by `auditor audit --portfolio`, in one run and
in shards.

    python -m benchmarks.portfolio --tenants 200 --latency-ms 50 --shards 4 --json

generates one small tenant per seed (benchmarks/generate.py: 50 service principals, 200 mailboxes, 3
integrations by default) and serves each from an emulator of its own, with `--latency-ms` on every HTTP
request. The emulator serves one tenant per server, so the tenants' servers are spread over a few child
processes (`--emulator-processes`, default 2; one port per tenant, one CA for all): the auditor talks to as many
tenants as the portfolio names, none of them in its own process. Then it writes a portfolio file naming every
tenant and runs what `auditor audit --portfolio` runs (auditor.portfolio.run_portfolio, the default report
formats, no history) at the portfolio's default concurrency: tenants per minute, wall, peak memory. With
`--shards N` it then runs the N shards one after another (as N machines would, here in turn) and
`auditor merge-portfolio` over them, and says whether the merged summary equals the one-run summary (every
column but the collection times).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.generate import Sizes, generate, write
from benchmarks.sweep import STARTUP_TIMEOUT_S, peak_rss_mb, request_totals
from benchmarks.synthetic import JUMP_PASSWORD, SECRET


@dataclass(frozen=True)
class FarmSpec:
    """What one emulator child serves: the tenants of these seeds, each on a port of its own."""

    work: Path
    seeds: tuple[int, ...]
    service_principals: int
    mailboxes: int
    integrations: int
    latency_ms: float
    certs: Path


def serve_many(conn: Connection, spec: FarmSpec) -> None:
    """The child's main: one EmulatorServer per tenant, all started; then `counters` (summed over its servers,
    with its own CPU seconds) until `stop`."""
    from auditor.emulator.ca import generate_certificates
    from auditor.emulator.exchange import attach
    from auditor.emulator.faults import FaultPlan
    from auditor.emulator.server import EmulatorServer
    from auditor.emulator.tenant import load_tenant

    certs = generate_certificates(spec.certs)  # one CA per child: its servers share it, as a cloud's front ends
    servers, served = [], []
    try:
        for seed in spec.seeds:
            folder = spec.work / f"tenant-{seed:04d}"
            sizes = Sizes(spec.service_principals, spec.mailboxes, spec.integrations, seed)
            tenant_path, baseline_path = write(generate(sizes), folder)
            tenant = load_tenant(tenant_path, datetime.now(UTC) - timedelta(hours=1))
            server = EmulatorServer(tenant, FaultPlan(latency_ms=spec.latency_ms), certs=certs).start()
            servers.append(server)
            attach(server, mode="jump-host")
            served.append({"seed": seed, "base_url": server.base_url, "ca_path": server.ca_path,
                           "baseline": str(baseline_path),
                           "tenant": {"id": tenant.id, "default_domain": tenant.default_domain,
                                      "display_name": tenant.display_name,
                                      "doc": {"emulator": tenant.doc["emulator"]}}})
        conn.send(served)
        while True:
            command = conn.recv()
            if command == "counters":
                total: dict[str, int] = {}
                for server in servers:
                    for route, n in server.counters.snapshot().items():
                        total[route] = total.get(route, 0) + n
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send({"counters": total, "cpu_s": usage.ru_utime + usage.ru_stime})
            elif command == "reset":
                for server in servers:
                    server.counters.reset()
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send(usage.ru_utime + usage.ru_stime)
            else:
                break
    finally:
        for server in servers:
            server.stop()
        conn.close()


class Farm:
    """The emulator children, started together; `served` lists every tenant's endpoints, by seed."""

    def __init__(self, specs: list[FarmSpec]) -> None:
        context = multiprocessing.get_context("spawn")
        self._children = []
        for i, spec in enumerate(specs):
            parent, child = context.Pipe()
            process = context.Process(target=serve_many, args=(child, spec), name=f"bench-farm-{i}", daemon=True)
            process.start()
            child.close()
            self._children.append((process, parent))
        self.served: list[dict[str, Any]] = []
        try:
            for _process, conn in self._children:
                if not conn.poll(STARTUP_TIMEOUT_S):
                    raise RuntimeError(f"an emulator process did not start within {STARTUP_TIMEOUT_S} s")
                self.served += conn.recv()
        except (EOFError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"an emulator process ended before serving: {exc or 'see its error above'}") from None
        self.served.sort(key=lambda t: t["seed"])

    def ask(self, command: str) -> list[Any]:
        for _, conn in self._children:
            conn.send(command)
        return [conn.recv() for _, conn in self._children]

    def totals(self) -> tuple[dict[str, int], float]:
        counters: dict[str, int] = {}
        cpu = 0.0
        for answer in self.ask("counters"):
            cpu += answer["cpu_s"]
            for route, n in answer["counters"].items():
                counters[route] = counters.get(route, 0) + n
        return counters, cpu

    def stop(self) -> None:
        for process, conn in self._children:
            if process.is_alive():
                with contextlib.suppress(OSError):
                    conn.send("stop")
        for process, conn in self._children:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join(5)
            conn.close()


def write_portfolio(served: list[dict[str, Any]], folder: Path, concurrency: int | None) -> Path:
    """A baseline per tenant (its generated intent aimed at its server) and the portfolio file naming them."""
    from auditor.demo import baseline_toml
    from benchmarks.emulator_process import handle

    entries = []
    for tenant in served:
        intent = re.sub(r"(?ms)^\[tenant\].*?(?=^\[)", "", Path(tenant["baseline"]).read_text(encoding="utf-8"))
        name = f"tenant-{tenant['seed']:04d}.toml"
        (folder / name).write_text(baseline_toml(handle(tenant)) + intent, encoding="utf-8")  # type: ignore[arg-type]
        entries.append(f'\n[[tenant]]\nname = "Tenant {tenant["seed"]:04d}"\nbaseline = "{name}"\n')
    head = '[portfolio]\ntitle = "Benchmark portfolio"\n' + (f"concurrency = {concurrency}\n" if concurrency else "")
    path = folder / "portfolio.toml"
    path.write_text(head + "".join(entries), encoding="utf-8")
    return path


def comparable(out: Path) -> pd.DataFrame:
    """The summary CSV without the collection times (runs minutes apart read the tenants at other times)."""
    return pd.read_csv(out / "portfolio.csv", dtype=str, keep_default_na=False).drop(columns="collected_at")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from auditor.commands.options import formats
    from auditor.portfolio import DEFAULT_CONCURRENCY, load_portfolio, run_portfolio
    from auditor.portfolio_merge import merge_portfolio
    from auditor.runs import RunOptions
    from auditor.shards import Shard, parse_shard

    os.environ["AUDITOR_CLIENT_SECRET"] = SECRET  # every generated tenant's auditor app has the same secret
    os.environ["AUDITOR_PSRP_PASSWORD"] = JUMP_PASSWORD
    os.environ.pop("AZURE_CLIENT_SECRET", None)
    with tempfile.TemporaryDirectory(prefix="auditor-bench-portfolio-") as scratch:
        work = Path(args.work) if args.work else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        seeds = list(range(1, args.tenants + 1))
        processes = max(1, min(args.emulator_processes, len(seeds)))
        specs = [FarmSpec(work, tuple(seeds[i::processes]), args.service_principals, args.mailboxes,
                          args.integrations, args.latency_ms, work / f"ca-{i}") for i in range(processes)]
        started = time.perf_counter()
        farm = Farm(specs)
        try:
            setup_s = time.perf_counter() - started
            path = write_portfolio(farm.served, work, args.concurrency)
            concurrency = load_portfolio(path).concurrency
            options = RunOptions(out=work / "one-run", formats=formats(None), no_history=True)
            emulator_cpu_before = sum(farm.ask("reset"))
            cpu_before, begun = cpu_seconds(), time.perf_counter()
            one = run_portfolio(path, options)
            wall = time.perf_counter() - begun
            counters, emulator_cpu = farm.totals()
            requests = request_totals(counters)
            verdicts: dict[str, int] = {}
            for row in one.rows:
                verdicts[row.verdict] = verdicts.get(row.verdict, 0) + 1
            result: dict[str, Any] = {
                "tenants": len(one.rows),
                "sizes": {"service_principals": args.service_principals, "mailboxes": args.mailboxes,
                          "integrations": args.integrations},
                "latency_ms": args.latency_ms, "concurrency": concurrency,
                "default_concurrency": concurrency == DEFAULT_CONCURRENCY,
                "emulator_processes": processes, "emulator_setup_s": round(setup_s, 3),
                "one_run": {
                    "wall_s": round(wall, 3), "tenants_per_minute": round(len(one.rows) / wall * 60, 1),
                    "peak_rss_mb": peak_rss_mb(), "cpu_s": round(cpu_seconds() - cpu_before, 3),
                    "emulator_cpu_s": round(emulator_cpu - emulator_cpu_before, 3), "exit_code": one.exit_code,
                    "verdicts": verdicts,
                    "requests": {k: v for k, v in requests.items() if k != "by_route"},
                    "requests_per_tenant": round(requests["total"] / max(1, len(one.rows)), 1),
                },
            }
            if args.shards:
                count = parse_shard(f"1/{args.shards}").count
                shards, folders = [], []
                for index in range(1, count + 1):
                    folder = work / f"shard-{index}"
                    begun = time.perf_counter()
                    part = run_portfolio(path, RunOptions(out=folder, formats=formats(None), no_history=True),
                                         Shard(index, count))
                    shards.append({"shard": f"{index}/{count}", "tenants": len(part.rows),
                                   "wall_s": round(time.perf_counter() - begun, 3), "exit_code": part.exit_code})
                    folders.append(folder)
                begun = time.perf_counter()
                merged = merge_portfolio(folders, work / "merged")
                merge_s = time.perf_counter() - begun
                result["shards"] = {
                    "count": count, "runs": shards, "merge_s": round(merge_s, 3),
                    "sum_of_shard_walls_s": round(sum(s["wall_s"] for s in shards), 3),
                    "longest_shard_s": max(s["wall_s"] for s in shards),
                    "merged_exit_code": merged.exit_code,
                    "merged_equals_one_run": bool(comparable(work / "merged").equals(comparable(options.out))
                                                  and merged.exit_code == one.exit_code),
                    "peak_rss_mb_after_shards": peak_rss_mb(),
                }
        finally:
            farm.stop()
    return result


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(result: dict[str, Any]) -> str:
    one = result["one_run"]
    lines = [f"{result['tenants']} tenants ({result['sizes']['service_principals']} SPs / "
             f"{result['sizes']['mailboxes']} mailboxes / {result['sizes']['integrations']} integrations each) at "
             f"{result['latency_ms']} ms, concurrency {result['concurrency']}: {one['wall_s']} s, "
             f"{one['tenants_per_minute']} tenants/min, peak {one['peak_rss_mb']} MB, "
             f"{one['requests_per_tenant']} requests/tenant, exit {one['exit_code']} {one['verdicts']}"]
    if "shards" in result:
        s = result["shards"]
        lines.append(f"{s['count']} shards in turn: " + ", ".join(f"{r['shard']} {r['tenants']} tenants "
                                                                   f"{r['wall_s']} s" for r in s["runs"])
                     + f"; merge {s['merge_s']} s; merged equals one run: {s['merged_equals_one_run']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.portfolio", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--service-principals", type=int, default=50)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--integrations", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, help="[portfolio] concurrency (default: the portfolio's, 4)")
    parser.add_argument("--shards", type=int, help="also run the portfolio as N shards in turn, then merge them")
    parser.add_argument("--emulator-processes", type=int, default=2, help="child processes serving the tenants")
    parser.add_argument("--work", help="keep the tenants, baselines and outputs in this directory")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (the default is a summary)")
    args = parser.parse_args(argv)
    if args.tenants < 1 or (args.shards is not None and not 1 <= args.shards <= 1000):
        parser.error("--tenants must be at least 1 and --shards 1 to 1000")
    try:
        result = run(args)
    except (RuntimeError, ValueError) as exc:
        print(f"python -m benchmarks.portfolio: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
