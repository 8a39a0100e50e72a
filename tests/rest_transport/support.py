"""Helpers for the REST transport tests: the collector tests' tenant served over both transports at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from auditor.collect.exchange import collect_exchange
from auditor.collect.rest import RestSettings, RestShellPool
from auditor.emulator.exchange import attach
from auditor.emulator.exchange.rest import RestService, attach_rest
from auditor.emulator.faults import FaultPlan
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant
from auditor.models.baseline import Baseline
from auditor.models.snapshot import Section
from tests.collect_exchange.support import audit_baseline
from tests.collect_exchange.support import collect as collect_psrp
from tests.emulator_exchange.helpers import TENANT_ID, exchange_token

FAST_BACKOFF = (0.01, 0.02, 0.04)
Collected = tuple[dict[str, Section], dict[str, Any]]


@contextmanager
def both_transports(tenant: Tenant, faults: FaultPlan | None = None) -> Iterator[tuple[EmulatorServer, RestService]]:
    """One emulator serving the jump host (/wsman) and InvokeCommand (/adminapi) over one cmdlet layer."""
    with EmulatorServer(tenant, faults) as server:
        psrp = attach(server, "jump-host")
        yield server, attach_rest(server, psrp.cmdlets)


def rest_settings(server: EmulatorServer, **overrides: Any) -> RestSettings:
    values: dict[str, Any] = dict(endpoint=f"{server.base_url}/adminapi/beta", tenant_id=TENANT_ID,
                                  verify=server.ca_path, pools=2, operation_timeout_s=5, backoff_s=FAST_BACKOFF)
    values.update(overrides)
    return RestSettings(**values)


def open_pool(server: EmulatorServer, token: Callable[[], str] | None = None,
              sleep: Callable[[float], None] | None = None, **overrides: Any) -> RestShellPool:
    provider = token or (lambda: exchange_token(server))
    return RestShellPool.open(rest_settings(server, **overrides), provider, sleep or (lambda seconds: None))


def collect_rest(server: EmulatorServer, base: Baseline | None = None, token: Callable[[], str] | None = None,
                 sleep: Callable[[float], None] | None = None, **overrides: Any) -> Collected:
    return collect_exchange(base or audit_baseline(), lambda: open_pool(server, token, sleep, **overrides))


def collect_both(server: EmulatorServer, base: Baseline | None = None) -> tuple[Collected, Collected]:
    base = base or audit_baseline()
    return collect_psrp(server, base), collect_rest(server, base)


def as_json(sections: dict[str, Section]) -> dict[str, Any]:
    """Sections as the snapshot stores them (what the checks read), for exact comparison."""
    return {name: json.loads(json.dumps(section.to_dict())) for name, section in sorted(sections.items())}


def rest_counts(server: EmulatorServer) -> dict[str, int]:
    return {k: v for k, v in server.counters.snapshot().items() if k.startswith(("rest:", "POST /adminapi"))}
