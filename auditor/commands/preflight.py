"""`auditor preflight`: before the first audit of a tenant, is everything the audit needs there?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.commands.options import BaselineFile
from auditor.models.baseline import load_baseline
from auditor.preflight.model import NeedStatus, Preflight
from auditor.runs import INSECURE_WARNING, RunOptions, live_settings, session_warnings

PREFLIGHT_FILE = "preflight.json"


def preflight_command(
    baseline: BaselineFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record (preflight.json) instead of the "
                                          "table.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the record here (0600), e.g. "
                                             "preflight.json beside the baseline, where `auditor audit` finds it.",
                                             show_default=False)] = None,
    insecure: Annotated[bool, typer.Option("--insecure-skip-tls-verify", help="Do not verify TLS certificates, "
                                           "as for `auditor audit`.")] = False,
) -> int:
    """Check, read-only and in seconds, each Graph permission and Exchange role the audit needs (OK, or MISSING
    with the fix), and observe how the tenant answers where Microsoft documents nothing. Exit 0 when everything
    is there, 3 otherwise. The record holds ids, type names and versions only: it is safe to share."""
    from auditor.preflight.run import preflight
    from auditor.reports.files import write_atomic

    base = load_baseline(baseline)
    settings = live_settings(base, RunOptions(out=Path("."), verify_tls=not insecure))
    if insecure:
        typer.echo(f"auditor: warning: {INSECURE_WARNING}", err=True)
    for line in session_warnings(base):
        typer.echo(f"auditor: warning: {line}", err=True)
    record = preflight(base, settings)
    if out is not None:
        write_atomic(out, record.to_json())
    if as_json:
        typer.echo(record.to_json(), nl=False)
    else:
        for line in table(record):
            typer.echo(line)
        if out is not None:
            typer.echo(f"wrote {out}")
    return 0 if record.complete else 3


def table(record: Preflight) -> list[str]:
    """One aligned line per need, then what was observed."""
    width = max((len(n.name) for n in record.needs), default=0)
    status_width = max(len(s.value) for s in NeedStatus)
    lines = []
    for need in record.needs:
        fix = need.fix if need.status is not NeedStatus.OK else (f"({need.fix})" if need.fix else "")
        more = f" [{need.detail}]" if need.detail and need.status is not NeedStatus.OK else ""
        lines.append(f"{need.name:<{width}}  {need.status.value:<{status_width}}  {fix}{more}".rstrip())
    doc = record.to_dict()
    observed = ",".join(f"{k}={v}" for k, v in doc["realism"].items()) or "nothing"
    unobserved = ",".join(f"{k}={v}" for k, v in doc["unobserved"].items())
    lines.append(f"observed profile: {observed}" + (f" (not observed: {unobserved})" if unobserved else ""))
    if record.versions:
        lines.append("versions: " + ", ".join(f"{k}={v}" for k, v in sorted(record.versions.items())))
    missing = sum(n.status is not NeedStatus.OK for n in record.needs)
    lines.append(f"preflight: {len(record.needs) - missing} of {len(record.needs)} needs OK"
                 + (f"; {missing} to fix before the audit" if missing else "; ready to audit"))
    return lines
