"""The naive collection, for comparison: one request per object, one thing at a time.

It reads the same sections as the product, so the checks reach the same findings, the way tools that peers
ship read them: every service principal's own appRoleAssignments (instead of the two resource-side
appRoleAssignedTo listings), each integration's owners and grants, and each address, by a request of its own
(no `$batch`, no `in (...)`); in Exchange, one pipeline per Test-ApplicationAccessPolicy, per Get-Mailbox and
per Get-Recipient look-up, over one runspace pool; Graph first, then Exchange. Listings keep `$top=999`, so the
difference measured is the per-object reads alone.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from auditor.collect.exchange import ExchangeCollector, collect_exchange
from auditor.collect.graph import ASSIGNMENT_SELECT, PAGE, GraphCollector
from auditor.collect.http import GraphClient, GraphRequestError
from auditor.collect.psrp import open_psrp_pool
from auditor.collect.run import CollectionSettings, collect
from auditor.models.baseline import Baseline
from auditor.models.graph import EXCHANGE_APP_ID, GRAPH_APP_ID
from auditor.models.snapshot import Section, Snapshot


class OneByOne(GraphClient):
    """The run's GraphClient (same session, token, retries and request counts) with `$batch` replaced by one
    GET per item."""

    def __init__(self, inner: GraphClient) -> None:
        super().__init__(inner.session, inner.base.removesuffix("/v1.0"), inner.token, inner.timeout_s, inner.retry,
                         inner.sleep)
        self.requests, self._lock = inner.requests, inner._lock

    def batch(self, paths: dict[str, str], what: str) -> dict[str, dict[str, Any] | GraphRequestError]:
        results: dict[str, dict[str, Any] | GraphRequestError] = {}
        for key, path in paths.items():
            try:
                results[key] = self.get(path, what)
            except GraphRequestError as exc:
                results[key] = exc
        return results


class NaiveGraphCollector(GraphCollector):
    filter_in_limit = 1  # one `eq` look-up per address and per app id

    def __init__(self, client: GraphClient, baseline: Baseline) -> None:
        super().__init__(OneByOne(client), baseline)
        self._every_sp: list[str] = []

    def collect(self) -> dict[str, Section]:
        out: dict[str, Section] = {}
        done: dict[str, Future[Any]] = {}

        def now(name: str, read: Callable[[], Any]) -> Any:
            future: Future[Any] = Future()
            try:
                future.set_result(read())
            except GraphRequestError as exc:
                future.set_exception(exc)
            done[name] = future
            return self._settle(name, future, out)

        sps = now("graph.servicePrincipals", self._service_principals)
        self._every_sp = [s["id"].lower() for s in sps or []]
        integration_sps = {s["id"].lower(): s for s in (sps or []) if s.get("appId", "").lower() in self.app_ids}
        apps = now("graph.applications", self._applications)
        assignments = now("graph.appRoleAssignments", lambda: self._assignments(integration_sps, Future()))
        now("graph.resources", lambda: self._resources(assignments or [], apps or []))
        now("graph.oauth2PermissionGrants", lambda: self._grants(integration_sps))
        now("graph.users", self._users)
        return out

    def _assignments(self, integration_sps: dict[str, dict[str, Any]], resource_side: Future[Any]
                     ) -> tuple[str, Any, list[str], dict[str, str]]:
        """Every service principal's own assignments, one request each; kept: what the product keeps (roles on
        Graph and Exchange, and everything the integrations hold)."""
        resources = {r["id"].lower() for a in (GRAPH_APP_ID, EXCHANGE_APP_ID)
                     if (r := self._resource_by_app_id(a)) is not None} if self.sweep else set()
        reads = self._every_sp if self.sweep else list(integration_sps)
        rows: dict[str, dict[str, Any]] = {}
        item_errors: dict[str, str] = {}
        for sp_id in reads:
            path = f"/servicePrincipals/{sp_id}/appRoleAssignments?$select={ASSIGNMENT_SELECT}&$top={PAGE}"
            try:
                found = self.client.get_all(path, "GET /servicePrincipals/{id}/appRoleAssignments")
            except GraphRequestError as exc:
                if sp_id in integration_sps or self.sweep:
                    item_errors[f"principal:{sp_id}"] = str(exc)
                continue
            for row in found:
                if row["resourceId"].lower() in resources or sp_id in integration_sps:
                    rows[row["id"]] = row
        queried = [f"principal:{sp}" for sp in integration_sps if f"principal:{sp}" not in item_errors]
        if self.sweep and not item_errors:
            queried += [f"resource:{r}" for r in resources]  # every principal was read: the listing is complete
        source = "graph:GET /servicePrincipals/{id}/appRoleAssignments (every service principal, one by one)"
        return source, sorted(rows.values(), key=lambda r: r["id"]), sorted(queried), item_errors


class NaiveExchangeCollector(ExchangeCollector):
    lookup_batch = 1


def naive_graph(client: GraphClient, baseline: Baseline) -> dict[str, Section]:
    return NaiveGraphCollector(client, baseline).collect()


def naive_exchange(baseline: Baseline, settings: CollectionSettings,
                   token: Callable[[], str]) -> tuple[dict[str, Section], dict[str, Any]]:
    return collect_exchange(baseline, lambda: open_psrp_pool(
        baseline, settings.psrp_password, token, baseline.auth.ca_bundle or None), batch_size=1,
        collector=NaiveExchangeCollector)


def naive_collect(baseline: Baseline, settings: CollectionSettings) -> Snapshot:
    """The naive collection (run it with `[exchange] pools = 1`)."""
    return collect(baseline, settings, naive_exchange, graph=naive_graph, parallel=False)
