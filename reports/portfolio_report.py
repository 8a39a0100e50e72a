"""The portfolio summary: one page (portfolio.html) and one table (portfolio.csv) comparing tenants side by side.

Like report.html the page is self-contained, autoescaped and pinned by a Content-Security-Policy (our stylesheet
by hash, no script at all); it links only to each tenant's own report.html beside it. Deterministic: it shows
the tenants' collection times, never the time it was rendered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from auditor.models.findings import Severity, Status
from auditor.reports.csv_report import neutralise
from auditor.reports.files import write_atomic
from auditor.reports.html_report import _asset, _environment

VERDICTS = {"pass": "Compliant", "fail": "Not compliant", "incomplete": "Incomplete", "not-audited": "Not audited"}


@dataclass(frozen=True)
class TenantRow:
    """One tenant's outcome in a portfolio run."""

    name: str
    folder: str
    """Its reports' folder, relative to the portfolio output."""
    verdict: str
    """A key of VERDICTS."""
    exit_code: int
    error: str = ""
    """Why it could not be audited (sign-in refused, baseline invalid, ...); empty when it was."""
    tenant_id: str = ""
    tenant_name: str = ""
    collected_at: str = ""
    by_status: dict[str, int] = field(default_factory=dict)
    failures_by_severity: dict[str, int] = field(default_factory=dict)
    new: int | None = None
    """FAILs and ERRORs new since the tenant's last run; None without history."""
    resolved: int | None = None
    waivers_expiring: int = 0
    waivers_stale: int = 0
    report: str = ""
    """Relative link to its report.html, when one was written."""


COLUMNS = ["tenant", "tenant_id", "verdict", "exit_code", *(s.value for s in Severity), "FAIL", "ERROR", "WAIVED",
           "SKIP", "PASS", "new", "resolved", "waivers_expiring", "waivers_stale", "collected_at", "report", "error"]


def frame(rows: list[TenantRow]) -> pd.DataFrame:
    records = []
    for r in rows:
        records.append({
            "tenant": r.name, "tenant_id": r.tenant_id, "verdict": VERDICTS[r.verdict], "exit_code": r.exit_code,
            **{s.value: r.failures_by_severity.get(s.value, "") if r.report else "" for s in Severity},
            **{s.value: r.by_status.get(s.value, "") if r.report else "" for s in
               (Status.FAIL, Status.ERROR, Status.WAIVED, Status.SKIP, Status.PASS)},
            "new": "" if r.new is None else r.new, "resolved": "" if r.resolved is None else r.resolved,
            "waivers_expiring": r.waivers_expiring, "waivers_stale": r.waivers_stale,
            "collected_at": r.collected_at, "report": r.report, "error": r.error,
        })
    df = pd.DataFrame(records, columns=COLUMNS, dtype=object)
    return df.map(lambda v: neutralise(str(v)))


def render_html(rows: list[TenantRow], title: str) -> str:
    verdicts = Counter(r.verdict for r in rows)
    return _environment().get_template("portfolio.html.j2").render(
        title=title or "Portfolio audit", rows=rows, severities=list(Severity), verdict_names=VERDICTS,
        verdicts=[(key, VERDICTS[key], verdicts[key]) for key in VERDICTS if verdicts[key]], css=_asset("report.css"),
    )


def write(rows: list[TenantRow], title: str, out_dir: Path) -> list[Path]:
    html, csv = out_dir / "portfolio.html", out_dir / "portfolio.csv"
    write_atomic(html, render_html(rows, title))
    write_atomic(csv, frame(rows).to_csv(index=False, lineterminator="\n"))
    return [html, csv]
