"""Exchange collection entry point used by `collect`, `audit` and `demo`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditor.collect.exchange import collect_exchange
from auditor.collect.exo_session import exchange_environment, organization_note
from auditor.collect.local_pool import open_local_pool
from auditor.collect.psrp import open_psrp_pool
from auditor.collect.rest import open_rest_pool
from auditor.collect.run import CollectionSettings
from auditor.models.baseline import Baseline, ExchangeTransport
from auditor.models.snapshot import SECTION_NAMES, Section, SectionStatus


def read_exchange(baseline: Baseline, settings: CollectionSettings,
                  exchange_token: Callable[[], str]) -> tuple[dict[str, Section], dict[str, Any]]:
    verify_tls = True if settings is None else settings.verify_tls
    clock = None if settings is None else settings.clock  # the run's deadline (auditor/collect/bounds.py)
    if baseline.exchange.transport == "rest":  # experimental: README "Choosing the Exchange transport"
        return collect_exchange(baseline, lambda: open_rest_pool(baseline, exchange_token, verify_tls, clock))
    if baseline.exchange.transport is ExchangeTransport.LOCAL:  # a pwsh child per pool, on this machine
        return _with_session_facts(baseline, collect_exchange(baseline, lambda: open_local_pool(baseline,
                                                                                               exchange_token, clock)))
    if baseline.exchange.transport != "psrp":
        names = [n for n in SECTION_NAMES if n.startswith("exchange.")] + ["canaries"]
        reason = f"the {baseline.exchange.transport} transport is not available yet"
        return {n: Section(n, "exo", SectionStatus.NOT_COLLECTED, reason) for n in names}, {}
    token = exchange_token if baseline.exchange.connect == "jump-host" else None
    collected = collect_exchange(baseline, lambda: open_psrp_pool(
        baseline, settings.psrp_password, token, baseline.auth.ca_bundle or None, verify_tls, clock))
    return collected if token is None else _with_session_facts(baseline, collected)


def _with_session_facts(baseline: Baseline, collected: tuple[dict[str, Section], dict[str, Any]]
                        ) -> tuple[dict[str, Section], dict[str, Any]]:
    """What Connect-ExchangeOnline was given, and a doubt about it (docs/microsoft-facts.md)."""
    sections, facts = collected
    session = facts.setdefault("exchange", {})
    session["exchange_environment"] = exchange_environment(baseline) or "O365Default"
    if (note := organization_note(baseline.tenant.domain)) is not None:
        session["organization_note"] = note
    return sections, facts
