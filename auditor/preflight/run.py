"""One preflight against a tenant: sign in, the Graph reads, then Exchange over the baseline's transport.

Read-only like the audit (the same clients, GETs and allowlisted cmdlets only), and small: one call per need,
one Exchange session (pools = 1), no retries beyond the clients' own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from urllib3.exceptions import InsecureRequestWarning

from auditor.collect.auth import TokenSource, is_known_cloud
from auditor.collect.exo_session import exchange_environment
from auditor.collect.http import GraphClient, RetryPolicy, VerifyingSession
from auditor.collect.run import CollectionSettings, graph_scope
from auditor.collect.shell import ShellPool, one_line
from auditor.collect.tls import verification
from auditor.errors import CollectionError
from auditor.models.baseline import Baseline, ExchangeTransport
from auditor.preflight.exchange_needs import AUDIT_CMDLETS, ExchangeProbe, connect_fix
from auditor.preflight.graph_needs import graph_needs
from auditor.preflight.model import Need, NeedStatus, Preflight
from auditor.redact import register

QUICK = RetryPolicy(max_attempts=3, max_total_wait_s=10.0)  # in seconds, not minutes: a throttled read retries


def preflight(base: Baseline, settings: CollectionSettings) -> Preflight:
    register(*settings.credentials.secrets(), settings.psrp_password)
    record = Preflight(tenant_id=base.tenant.id, transport=str(base.exchange.transport),
                       observed_at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"))
    session = VerifyingSession(verify=verification(base.auth.ca_bundle, settings.verify_tls))
    if not settings.verify_tls:
        warnings.simplefilter("ignore", InsecureRequestWarning)
    scope = graph_scope(base.auth.graph_endpoint)
    try:
        tokens = TokenSource(settings.credentials, f"{base.auth.authority}/{base.tenant.id}", session,
                             is_known_cloud(base.auth.authority))
        tokens.token(scope)
    except CollectionError as exc:
        record.needs.append(Need("Sign-in (the auditor's app)", NeedStatus.MISSING,
                                 "check [tenant] id, [auth] client_id and the app's secret or certificate "
                                 "(AUDITOR_CLIENT_SECRET, or [auth] certificate)", one_line(str(exc))))
        record.needs += [Need(f"Exchange: {c}", NeedStatus.UNCHECKED, "sign in first")
                         for c in AUDIT_CMDLETS] if _reads_exchange(base) else []
        return record
    record.needs.append(Need("Sign-in (the auditor's app)", NeedStatus.OK))
    client = GraphClient(session, base.auth.graph_endpoint, lambda: tokens.token(scope), base.auth.timeout_s, QUICK)
    record.needs += graph_needs(client)
    if _reads_exchange(base):
        _exchange(base, settings, lambda: tokens.token(f"{base.auth.exchange_resource}/.default"), record)
    return record


def _reads_exchange(base: Baseline) -> bool:
    return base.exchange.transport is not ExchangeTransport.NONE


def _exchange(base: Baseline, settings: CollectionSettings, token: Callable[[], str], record: Preflight) -> None:
    one = replace(base, exchange=replace(base.exchange, pools=1))
    transport = base.exchange.transport
    if transport is ExchangeTransport.LOCAL and not _local_powershell(one, record):
        record.needs += [Need(f"Exchange: {c}", NeedStatus.UNCHECKED, "install PowerShell first")
                         for c in AUDIT_CMDLETS]
        return
    name = f"Exchange: connect ({transport})"
    try:
        pool = _open(one, settings, token)
    except CollectionError as exc:
        record.needs.append(Need(name, NeedStatus.MISSING, connect_fix(str(exc)), one_line(str(exc))))
        record.needs += [Need(f"Exchange: {c}", NeedStatus.UNCHECKED, "connect first") for c in AUDIT_CMDLETS]
        return
    try:
        record.needs.append(Need(name, NeedStatus.OK))
        if transport is ExchangeTransport.LOCAL or (transport is ExchangeTransport.PSRP
                                                    and base.exchange.connect == "jump-host"):
            record.exchange_environment = exchange_environment(base) or "O365Default"
        ExchangeProbe(pool, base.auth.client_id, record).run()
        facts = pool.facts()
        for key in ("powershell_version", "module_version"):
            if facts.get(key):
                record.versions[key] = str(facts[key])
    finally:
        pool.close()


def _open(base: Baseline, settings: CollectionSettings, token: Callable[[], str]) -> ShellPool:
    from auditor.collect.local_pool import open_local_pool
    from auditor.collect.psrp import open_psrp_pool
    from auditor.collect.rest import open_rest_pool

    if base.exchange.transport is ExchangeTransport.LOCAL:
        return open_local_pool(base, token)
    if base.exchange.transport is ExchangeTransport.REST:
        return open_rest_pool(base, token, settings.verify_tls)
    jump = token if base.exchange.connect == "jump-host" else None
    return open_psrp_pool(base, settings.psrp_password, jump, base.auth.ca_bundle or None, settings.verify_tls)


def _local_powershell(base: Baseline, record: Preflight) -> bool:
    """PowerShell 7 and the module on this machine (the local transport), before any sign-in to Exchange."""
    from auditor.collect.local_pool import check_local_powershell, local_settings

    check = check_local_powershell(local_settings(base))
    for key in ("powershell_version", "module_version"):
        if getattr(check, key):
            record.versions[key] = str(getattr(check, key))
    record.needs.append(Need("Exchange: local PowerShell 7 and ExchangeOnlineManagement",
                             NeedStatus.OK if check.ok else NeedStatus.MISSING, "" if check.ok else check.message))
    return check.ok
