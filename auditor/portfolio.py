"""Many tenants in one run: `auditor audit --portfolio FILE`.

A portfolio file (TOML) names one baseline per tenant. The tenants are audited concurrently, a few at a time
(each audit waits on the network, so threads suffice), each into its own folder; then one summary page and one
CSV compare them side by side. A tenant that cannot be audited (its sign-in is refused, its baseline is broken,
its secret is not set) costs that tenant only: the others finish, the summary says what went wrong, and the
exit code is 3 (README.md, "Exit codes"). Each tenant's run has its own deadline (`[auth] run_deadline_s` of its
baseline), so a tenant whose servers hang ends there as ERRORs and the summary is still written. With
`--shard I/N` only the tenants of that shard are audited (auditor/shards.py), for `auditor merge-portfolio`.

    [portfolio]
    title = "Managed tenants"            # optional; heads the summary page
    concurrency = 4                      # tenants audited at once (1 to 16)

    [[tenant]]
    name = "Contoso"                     # label, and the name of its report folder
    baseline = "contoso.toml"            # relative to the portfolio file
    secret_env = "CONTOSO_AUDITOR_SECRET"        # optional: variable holding this tenant's client secret
    psrp_password_env = "CONTOSO_PSRP_PASSWORD"  # optional: variable holding its jump host password
"""

from __future__ import annotations

import os
import re
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import AuditorError, ConfigError
from auditor.models.baseline import load_baseline
from auditor.models.tables import TableReader
from auditor.redact import redact
from auditor.reports.output_set import check_out_dir
from auditor.reports.portfolio_report import TenantRow
from auditor.runs import PSRP_PASSWORD_ENV, RunOptions, collect_run, finish_run, live_settings, open_history
from auditor.shards import (
    WHOLE,
    Shard,
    file_sha256,
    forget_manifest,
    manifest,
    shard_of,
    shard_title,
    write_manifest,
)

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16


@dataclass(frozen=True)
class PortfolioTenant:
    name: str
    folder: str
    baseline: Path
    secret_env: str = ""
    psrp_password_env: str = ""


@dataclass(frozen=True)
class Portfolio:
    source: Path
    title: str
    concurrency: int
    tenants: tuple[PortfolioTenant, ...]


def load_portfolio(path: Path) -> Portfolio:
    origin = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    top = TableReader(origin, "", doc)
    top.only({"portfolio", "tenant"})
    head = TableReader(origin, "portfolio", doc.get("portfolio", {}))
    head.only({"title", "concurrency"})
    concurrency = head.number("concurrency", DEFAULT_CONCURRENCY, minimum=1)
    if concurrency > MAX_CONCURRENCY:
        raise head.error("concurrency", f"must be at most {MAX_CONCURRENCY}")
    raw = doc.get("tenant", [])
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{origin}: tenant: list at least one tenant ([[tenant]] with name and baseline)")
    tenants, folders = [], set()
    for i, table in enumerate(raw):
        r = TableReader(origin, f"tenant[{i}]", table)
        r.only({"name", "baseline", "secret_env", "psrp_password_env"})
        name = r.text("name", required=True).strip()
        folder = _folder(name)
        if folder in folders:
            raise r.error("name", f"{name!r} gives the same report folder ({folder}) as another tenant")
        folders.add(folder)
        baseline = Path(r.text("baseline", required=True)).expanduser()
        tenants.append(PortfolioTenant(name=name, folder=folder,
                                       baseline=baseline if baseline.is_absolute() else path.parent / baseline,
                                       secret_env=r.text("secret_env"), psrp_password_env=r.text("psrp_password_env")))
    return Portfolio(source=path, title=head.text("title"), concurrency=int(concurrency), tenants=tuple(tenants))


def _folder(name: str) -> str:
    """A safe folder (and link) name: lower-case letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "tenant"


@dataclass(frozen=True)
class PortfolioRun:
    rows: tuple[TenantRow, ...]
    """One per tenant, in file order."""
    written: tuple[Path, ...]
    """The summary page and CSV."""

    @property
    def exit_code(self) -> int:
        """3 if any tenant is incomplete or not audited, else 1 if any fails, else 0."""
        codes = {r.exit_code for r in self.rows}
        return 3 if 3 in codes else 1 if 1 in codes else 0


def run_portfolio(path: Path, options: RunOptions, shard: Shard = WHOLE) -> PortfolioRun:
    """Every tenant of the portfolio file (or of its `shard`), a few at a time, each into its own folder under
    `options.out`; then the summary page and CSV, and portfolio.json for `auditor merge-portfolio` (last: a
    folder with it is a finished one). A shard with no tenant writes an empty summary and exits 0."""
    from auditor.reports import portfolio_report

    portfolio = load_portfolio(path)
    sha256 = file_sha256(path)
    mine = shard_tenants(portfolio, shard)
    # A run that dies before its end must not leave the last run's record behind for a merge to take.
    forget_manifest(options.out)
    rows: tuple[TenantRow, ...] = ()
    if mine:
        with ThreadPoolExecutor(max_workers=min(portfolio.concurrency, len(mine)), thread_name_prefix="tenant") as pool:
            rows = tuple(pool.map(lambda t: audit_tenant(t, options), mine))
    written = portfolio_report.write(list(rows), shard_title(portfolio.title, shard), options.out)
    record = manifest(path, sha256, portfolio.title, [(t.name, t.folder) for t in portfolio.tenants], shard,
                      list(rows))
    return PortfolioRun(rows, (*written, write_manifest(options.out, record)))


def shard_tenants(portfolio: Portfolio, shard: Shard) -> tuple[PortfolioTenant, ...]:
    """The tenants of this shard, in file order (auditor/shards.py: by name, stable when tenants come and go)."""
    return tuple(t for t in portfolio.tenants if shard_of(t.folder, shard.count) == shard.index)


def audit_tenant(tenant: PortfolioTenant, options: RunOptions) -> TenantRow:
    """One tenant, start to finish; any AuditorError becomes this tenant's error, never the portfolio's."""
    try:
        return _audit(tenant, options)
    except AuditorError as exc:
        return TenantRow(name=tenant.name, folder=tenant.folder, verdict="not-audited", exit_code=3,
                         error=" ".join(redact(str(exc)).split()))


def _audit(tenant: PortfolioTenant, options: RunOptions) -> TenantRow:
    base = load_baseline(tenant.baseline)
    settings = live_settings(base, options, _environment(tenant), tenant.psrp_password_env or PSRP_PASSWORD_ENV)
    store = open_history(options, base)
    check_out_dir(options.out / tenant.folder)
    snapshot = collect_run(base, settings)
    sign_in = snapshot.collection.get("sign_in_error")
    if sign_in:  # nothing was collected: a report of nothing but ERRORs would only bury the reason
        return TenantRow(name=tenant.name, folder=tenant.folder, verdict="not-audited", exit_code=3,
                         error=" ".join(redact(str(sign_in)).split()), tenant_id=base.tenant.id,
                         tenant_name=base.tenant.name)
    run = finish_run(snapshot, base, options.out / tenant.folder, options, store)
    doc, code = run.result.document, run.exit_code
    return TenantRow(
        name=tenant.name, folder=tenant.folder, verdict={0: "pass", 1: "fail"}.get(code, "incomplete"),
        exit_code=code, tenant_id=doc.run.tenant_id, tenant_name=doc.run.tenant_name,
        collected_at=doc.run.collected_at, by_status=dict(doc.summary["by_status"]),
        failures_by_severity=dict(doc.summary["failures_by_severity"]),
        new=len(doc.drift.new) if doc.drift else None, resolved=len(doc.drift.resolved) if doc.drift else None,
        waivers_expiring=sum(1 for w in doc.waivers if w.state == "expiring"),
        waivers_stale=sum(1 for w in doc.waivers if w.stale),
        report=f"{tenant.folder}/report.html" if "html" in options.formats else "",
    )


def _environment(tenant: PortfolioTenant) -> dict[str, str]:
    """The process environment, with this tenant's own secret variable (if named) in the standard place."""
    env = dict(os.environ)
    if tenant.secret_env:
        value = env.get(tenant.secret_env)
        if not value:
            raise ConfigError(f"{tenant.secret_env}: not set (secret_env of tenant {tenant.name!r})")
        env["AUDITOR_CLIENT_SECRET"] = value
    return env
