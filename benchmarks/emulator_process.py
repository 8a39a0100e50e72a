"""The emulator in its own process, so the benchmark measures the auditor, not the emulator sharing its GIL.

A real tenant's servers do their work on other machines; an in-process emulator would take the auditor's
interpreter lock for every object it serialises. The child generates (or reads) the tenant, serves it, and
answers a few commands over a pipe: `counters`, `reset`, `stop`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from auditor.collect.listing import partition_filters
from auditor.emulator.exchange import ExchangeService, attach
from auditor.emulator.exchange.fast_output import record_xml
from auditor.emulator.faults import FaultPlan
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import load_tenant
from auditor.models.baseline import MailboxListing, load_baseline
from benchmarks.bounds import MESSAGE_OVERHEAD, lower_bound
from benchmarks.generate import Sizes, generate, write


@dataclass(frozen=True)
class EmulatorSpec:
    """What the child serves: a generated tenant (sizes) in `work`, or the given files."""

    work: Path
    sizes: Sizes | None
    tenant: Path | None = None
    baseline: Path | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True)
class TenantInfo:
    """The slice of emulator.tenant.Tenant that auditor.demo's emulator_baseline/emulator_settings read."""

    id: str
    default_domain: str
    display_name: str
    doc: dict[str, Any]


@dataclass(frozen=True)
class EmulatorHandle:
    """Stands in for a running EmulatorServer in the parent process (same attribute names)."""

    base_url: str
    ca_path: str
    tenant: TenantInfo


def serve(conn: Connection, spec: EmulatorSpec) -> None:
    """The child's main: prepare, start, report where it listens, then answer commands until `stop`."""
    started = time.perf_counter()
    tenant_path, baseline_path = spec.tenant, spec.baseline
    if spec.sizes is not None:
        tenant_path, baseline_path = write(generate(spec.sizes), spec.work)
    assert tenant_path is not None and baseline_path is not None
    generated_s = time.perf_counter() - started
    # The tenant's relative dates ("now+300d") are resolved an hour back: a credential's days left, counted from
    # each run's collected_at, then stay the same for runs minutes apart (compared by --compare-naive), whereas
    # a run collected within the second the tenant loaded would count one day more than the next.
    tenant = load_tenant(tenant_path, datetime.now(UTC) - timedelta(hours=1))
    server = EmulatorServer(tenant, FaultPlan(latency_ms=spec.latency_ms)).start()
    try:
        service = attach(server, mode="jump-host")
        baseline = load_baseline(baseline_path)
        bounds = {m.value: lower_bound(tenant.doc, baseline, listing_bytes(service, m)) for m in MailboxListing}
        bound = bounds[baseline.exchange.listing.value]
        conn.send({"base_url": server.base_url, "ca_path": server.ca_path, "baseline": str(baseline_path),
                   "tenant": {"id": tenant.id, "default_domain": tenant.default_domain,
                              "display_name": tenant.display_name, "doc": {"emulator": tenant.doc["emulator"]}},
                   "lower_bound": bound, "lower_bounds": bounds, "generate_s": round(generated_s, 3),
                   "setup_s": round(time.perf_counter() - started, 3)})
        while True:
            command = conn.recv()
            if command == "counters":
                conn.send(server.counters.snapshot())
            elif command == "reset":
                server.counters.reset()
                conn.send(None)
            elif command == "cpu":  # the emulator's own CPU seconds (all its threads), to subtract from a machine's
                conn.send(time.process_time())
            else:
                break
    finally:
        server.stop()
        conn.close()


def listing_bytes(service: ExchangeService, listing: MailboxListing) -> list[int]:
    """What each pipeline of the mailbox listing sends (Get-EXOMailbox, as the collector asks it: one pipeline,
    or one per partition filter): each row's CLIXML in a PSRP message of its own."""
    asked = [("ResultSize", "Unlimited"), ("PropertySets", "Minimum"), ("Properties", ["ExchangeGuid", "Sid"])]
    filters = partition_filters() if listing is MailboxListing.PARTITIONED else [None]
    sizes = []
    for text in filters:
        rows = service.cmdlets.invoke("Get-EXOMailbox", [*asked, *([("Filter", text)] if text else [])]).records
        sizes.append(sum(len((record_xml(row) or "").encode("utf-8")) + MESSAGE_OVERHEAD for row in rows))
    return sizes


def handle(info: dict[str, Any]) -> EmulatorHandle:
    t = info["tenant"]
    return EmulatorHandle(info["base_url"], info["ca_path"],
                          TenantInfo(t["id"], t["default_domain"], t["display_name"], t["doc"]))
