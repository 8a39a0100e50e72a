"""One collection run: sign in, read Graph and Exchange, and assemble the snapshot.

Nothing here judges. A failure to sign in or to reach a service becomes `error` sections naming the cause, so
the evaluation still runs, the reports are still written, and the exit code says the audit is incomplete.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from urllib3.exceptions import InsecureRequestWarning

from auditor import __version__
from auditor.collect.auth import Credentials, TokenSource, is_known_cloud
from auditor.collect.basic import check_basic_password
from auditor.collect.bounds import RunClock, bound_session
from auditor.collect.graph import GraphCollector
from auditor.collect.http import GraphClient, RetryPolicy, VerifyingSession
from auditor.collect.tls import verification
from auditor.errors import CollectionError
from auditor.models.baseline import Baseline, ExchangeTransport
from auditor.models.snapshot import SCHEMA_VERSION, SECTION_NAMES, Section, SectionStatus, Snapshot

log = logging.getLogger("auditor.collect")

# Graph's token audience per cloud; anything else (the emulator) plays the worldwide cloud.
SOVEREIGN_GRAPH_HOSTS = frozenset({"graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"})
WORLDWIDE_GRAPH = "https://graph.microsoft.com"


def graph_scope(endpoint: str) -> str:
    host = endpoint.split("//", 1)[-1].split("/", 1)[0].lower()
    return (endpoint.rstrip("/") if host in SOVEREIGN_GRAPH_HOSTS else WORLDWIDE_GRAPH) + "/.default"


@dataclass
class CollectionSettings:
    """What a run needs beyond the baseline: the secrets (never printed) and the test hooks."""

    credentials: Credentials
    psrp_password: str | None = field(default=None, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: Callable[[str], None] = lambda message: None
    done: Callable[[str], None] = lambda message: None
    verify_tls: bool = True
    clock: RunClock | None = None
    """The run's deadline ([auth] run_deadline_s), set by `collect`; the Exchange transports bound their
    sessions with it."""


ExchangeReader = Callable[[Baseline, CollectionSettings, Callable[[], str]], tuple[dict[str, Section], dict[str, Any]]]
GraphReader = Callable[[GraphClient, Baseline], dict[str, Section]]


def read_graph(client: GraphClient, baseline: Baseline) -> dict[str, Section]:
    return GraphCollector(client, baseline).collect()


def collect(baseline: Baseline, settings: CollectionSettings, exchange: ExchangeReader | None = None, *,
            graph: GraphReader = read_graph, parallel: bool = True) -> Snapshot:
    """`graph` and `exchange` read the sections (benchmarks swap in other readers); `parallel` False reads
    Graph, then Exchange, as a one-thing-at-a-time collector would."""
    check_basic_password(baseline.exchange, settings.psrp_password)  # before any request (exit 2)
    collected_at = datetime.now(UTC).replace(microsecond=0)
    auth = baseline.auth
    clock = settings.clock = RunClock(auth.run_deadline_s)
    session = VerifyingSession(verify=verification(auth.ca_bundle, settings.verify_tls))
    bound_session(session, clock, auth.timeout_s)  # msal's sign-in and every Graph read: whole answers, in time
    if not settings.verify_tls:
        warnings.simplefilter("ignore", InsecureRequestWarning)
    facts: dict[str, Any] = {"graph_endpoint": auth.graph_endpoint, "exchange_transport": baseline.exchange.transport}
    if not settings.verify_tls:
        facts["tls_verify"] = False
    sections: dict[str, Section] = {}
    try:
        settings.progress("signing in")
        tokens = TokenSource(settings.credentials, f"{auth.authority}/{baseline.tenant.id}", session,
                             is_known_cloud(auth.authority))
        scope = graph_scope(auth.graph_endpoint)
        tokens.token(scope)  # fail early, with the sign-in error, rather than once per section
    except CollectionError as exc:
        log.error("%s", exc)
        facts["sign_in_error"] = str(exc)
        sections = _all_failed(f"not collected: {exc}")
        return _snapshot(baseline, collected_at, sections, _stop_facts(facts, clock))

    # Graph and Exchange share nothing but the sign-in (TokenSource is thread-safe): read them at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="exchange") as background:
        if parallel:
            exchange_f = background.submit(_read_exchange, baseline, settings, exchange, tokens)
        reads_exchange = exchange is not None and baseline.exchange.transport is not ExchangeTransport.NONE
        settings.progress("reading Microsoft Graph" + (" and Exchange Online" if reads_exchange else ""))
        started = time.monotonic()
        client = GraphClient(session, auth.graph_endpoint, lambda: tokens.token(scope), auth.timeout_s,
                             settings.retry, clock=clock)
        sections.update(graph(client, baseline))
        _check_baseline_permissions(baseline, sections)  # a misspelt permission: exit 2 before any snapshot
        facts["graph_requests"] = dict(sorted(client.requests.items()))
        facts["graph_retry_wait_s"] = round(client.waited_s, 2)
        facts["graph_wall_s"] = round(time.monotonic() - started, 3)
        settings.done(_graph_summary(sections, sum(client.requests.values())))
        if not parallel:
            exchange_f = background.submit(_read_exchange, baseline, settings, exchange, tokens)
        exo_sections, exo_facts, summary = exchange_f.result()
    sections.update(exo_sections)
    facts.update(exo_facts)
    if summary:
        settings.done(summary)
    return _snapshot(baseline, collected_at, sections, _stop_facts(facts, clock))


def _stop_facts(facts: dict[str, Any], clock: RunClock) -> dict[str, Any]:
    """The report's run facts say when the deadline or a signal cut the run short (its ERRORs say what)."""
    reason = clock.stop_reason()
    if reason is not None:
        facts["stopped"] = reason.split(":", 1)[0] if reason.startswith("interrupted") else (
            f"the run's deadline of {clock.deadline_s:g} s ([auth] run_deadline_s) was reached")
    return facts


def _check_baseline_permissions(baseline: Baseline, sections: dict[str, Section]) -> None:
    from auditor.models.baseline_permissions import check_permissions, resources_in

    resources = sections.get("graph.resources")
    if resources is not None and resources.status is SectionStatus.OK:
        check_permissions(baseline, resources_in(resources.data))


def _read_exchange(baseline: Baseline, settings: CollectionSettings, exchange: ExchangeReader | None,
                   tokens: TokenSource) -> tuple[dict[str, Section], dict[str, Any], str | None]:
    """The Exchange sections and run facts, and the line to show when done (None when not read)."""
    exchange_names = [n for n in SECTION_NAMES if n.startswith("exchange.")] + ["canaries"]
    if baseline.exchange.transport is ExchangeTransport.NONE:
        reason = 'Exchange collection is switched off ([exchange] transport = "none")'
        return {n: Section(n, "exo", SectionStatus.NOT_COLLECTED, reason) for n in exchange_names}, {}, None
    if exchange is None:
        reason = f"the {baseline.exchange.transport} transport is not available in this build"
        return {n: Section(n, "exo", SectionStatus.NOT_COLLECTED, reason) for n in exchange_names}, {}, None
    exchange_token = lambda: tokens.token(f"{baseline.auth.exchange_resource}/.default")  # noqa: E731
    exo_sections, exo_facts = exchange(baseline, settings, exchange_token)
    return exo_sections, exo_facts, _exchange_summary(exo_sections, exo_facts)


def _graph_summary(sections: dict[str, Section], requests: int) -> str:
    counts = {name.split(".", 1)[1]: len(s.data) for name, s in sections.items()
              if s.status is SectionStatus.OK and isinstance(s.data, list)}
    failed = sum(s.status is SectionStatus.ERROR for s in sections.values())
    return (f"Microsoft Graph: {counts.get('servicePrincipals', 0)} service principals, "
            f"{counts.get('applications', 0)} applications, {counts.get('appRoleAssignments', 0)} role assignments "
            f"in {requests} requests" + (f" ({failed} sections failed)" if failed else ""))


def _exchange_summary(sections: dict[str, Section], facts: dict[str, Any]) -> str:
    ex = facts.get("exchange", {}) if isinstance(facts.get("exchange"), dict) else {}
    tests = sections.get("exchange.accessTests")
    count = len(tests.data) if tests is not None and isinstance(tests.data, list) else 0
    failed = sum(s.status is SectionStatus.ERROR for s in sections.values())
    return (f"Exchange Online: {count} access tests, {ex.get('pipelines', '?')} pipelines, "
            f"{ex.get('round_trips', '?')} round trips" + (f" ({failed} sections failed)" if failed else ""))


def _all_failed(reason: str) -> dict[str, Section]:
    return {n: Section(n, "", SectionStatus.ERROR, reason) for n in SECTION_NAMES}


def _snapshot(baseline: Baseline, collected_at: datetime, sections: dict[str, Section],
              facts: dict[str, Any]) -> Snapshot:
    return Snapshot(schema_version=SCHEMA_VERSION, tenant_id=baseline.tenant.id, tenant_domain=baseline.tenant.domain,
                    tenant_name=baseline.tenant.name, collected_at=collected_at, tool_version=__version__,
                    baseline_hash=baseline.sha256, sections=sections, collection=facts)
