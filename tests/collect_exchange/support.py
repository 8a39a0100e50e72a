"""Helpers for the Exchange collector tests: a small tenant (20 mailboxes), settings, baselines, wrappers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from auditor.collect.exchange import collect_exchange
from auditor.collect.psrp import PsrpSettings, PsrpShellPool
from auditor.collect.shell import Command, ExchangeShell, Output, ShellPool, ShellStats
from auditor.emulator.server import EmulatorServer
from auditor.models.baseline import Baseline, PolicyConfig, SweepConfig, TenantConfig
from auditor.models.snapshot import Section, Snapshot
from tests.builders import SnapshotBuilder, baseline, cert, integration, user_owner
from tests.emulator_exchange.helpers import (
    APP_RBAC,
    APP_RESTRICTED,
    DOMAIN,
    JUMP_PASSWORD,
    JUMP_USER,
    TENANT_ID,
    exchange_token,
    tenant_doc,
)

BULK = 14  # 6 named mailboxes + 14 users = the ~20-mailbox tenant
FAST_BACKOFF = (0.01, 0.02, 0.04)
SCOPE_GROUP = "cctr_sec_group@contoso.com"
QUEUES = ("support@contoso.com", "sales@contoso.com")
EXCHANGE_SECTIONS = ("exchange.applicationAccessPolicies", "exchange.recipients", "exchange.groups",
                     "exchange.mailboxes", "exchange.accessTests", "exchange.servicePrincipals",
                     "exchange.roleAssignments", "exchange.managementScopes", "exchange.authorizationTests",
                     "canaries", "exchange.actualScope")


def collector_doc(bulk: int = BULK) -> dict[str, Any]:
    """The Exchange emulator tests' tenant, plus a wildcard DenyAccess policy on an executives group and a
    membership cycle (tier2 holds the scope group that holds tier2)."""
    doc = tenant_doc(bulk=bulk)
    exchange = doc["exchange"]
    exchange["distributionGroups"].append({
        "Name": "executives", "DisplayName": "Executives", "PrimarySmtpAddress": "executives@contoso.com",
        "RecipientTypeDetails": "MailUniversalSecurityGroup", "Members": ["ceo@contoso.com"],
        "ExternalDirectoryObjectId": "33333333-cccc-4ccc-8ccc-000000000009", "ManagedBy": ["admin@contoso.com"]})
    for group in exchange["distributionGroups"]:
        if group["Name"] == "tier2":
            group["Members"].append(SCOPE_GROUP)
    exchange["applicationAccessPolicies"].append({
        "AppId": "*", "PolicyScopeGroupId": "executives@contoso.com", "AccessRight": "DenyAccess",
        "Description": "no app reads the executives' mail"})
    return doc


def settings_for(server: EmulatorServer, **overrides: Any) -> PsrpSettings:
    values: dict[str, Any] = dict(
        server="127.0.0.1", port=urlsplit(server.base_url).port, auth="basic", username=JUMP_USER,
        password=JUMP_PASSWORD, cert_validation=server.ca_path, organization=DOMAIN, pools=2,
        operation_timeout_s=5, backoff_s=FAST_BACKOFF)
    values.update(overrides)
    return PsrpSettings(**values)


def audit_baseline(sample_size: int = 2, contact_canaries: Sequence[str] = ("ceo@contoso.com",),
                   **exchange: Any) -> Baseline:
    """Contact Center (policy model, scope group with a nested group) and a vendor's Ticketing app (rbac)."""
    contact = integration(name="Contact Center", app_id=APP_RESTRICTED, scope_group=SCOPE_GROUP, mailboxes=QUEUES,
                          canaries=tuple(contact_canaries), group_managers=("Exchange Admin", "admin@contoso.com"))
    ticketing = integration(name="Ticketing", app_id=APP_RBAC, scope_group="", mailboxes=("support@contoso.com",),
                            canaries=("hr@contoso.com",), access_model="rbac")
    base = baseline(contact, ticketing, sweep=SweepConfig(enabled=False),
                    policy=PolicyConfig(canary_sample_size=sample_size, canary_rotation="fixed"))
    base = dataclasses.replace(base, tenant=TenantConfig(id=TENANT_ID, domain=DOMAIN))
    return dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, **exchange)) if exchange else base


def collect(server: EmulatorServer, base: Baseline, token: Callable[[], str] | None = None,
            wrap: Callable[[ExchangeShell], ExchangeShell] | None = None, batch_size: int = 50,
            **overrides: Any) -> tuple[dict[str, Section], dict[str, Any]]:
    settings = settings_for(server, **overrides)
    token = token or (lambda: exchange_token(server))

    def open_pool() -> ShellPool:
        pool = PsrpShellPool.open(settings, token if settings.connect == "jump-host" else None)
        return ShellPool([wrap(s) for s in pool.shells]) if wrap else pool

    return collect_exchange(base, open_pool, batch_size=batch_size)


class RewritingShell:
    """A real shell whose commands are rewritten first (to play a host that refuses a parameter, say)."""

    def __init__(self, inner: ExchangeShell, rewrite: Callable[[Command], Command]) -> None:
        self.inner, self.rewrite = inner, rewrite

    @property
    def stats(self) -> ShellStats:
        return self.inner.stats

    def run(self, commands: Sequence[Command]) -> Output:
        return self.inner.run([self.rewrite(c) for c in commands])

    def close(self) -> None:
        self.inner.close()


def wsman_counts(server: EmulatorServer) -> dict[str, int]:
    return {k: v for k, v in server.counters.snapshot().items() if k.startswith(("wsman:", "psrp:", "POST /wsman"))}


def snapshot_with(sections: dict[str, Section]) -> Snapshot:
    """Graph sections from the builder (the Contact Center app restricted by Entra grants, Ticketing as a
    vendor's app with no Entra grant), Exchange sections as collected."""
    builder = SnapshotBuilder(tenant_id=TENANT_ID)
    builder.app(APP_RESTRICTED, "Contact Center", credentials=[], certificates=[cert()],
                owners=[user_owner("owner@contoso.com")])
    builder.app(APP_RBAC, "Ticketing", requested=(), granted=(), application=False,
                owner_org="99999999-9999-4999-8999-999999999999")
    for address in QUEUES:
        builder.user(address, enabled=False)
    for name, section in sections.items():
        builder.sections[name] = section.to_dict()
    return builder.build()
