"""`auditor history` and `auditor diff`, and the history options of `audit` and `demo` (what a run does with
the history is auditor/runs.py)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditor.errors import InputError
from auditor.history.store import HistoryStore
from auditor.models.findings import Drift, DriftEntry, Finding, RunRef, Severity, Status, load_findings

HistoryOption = Annotated[Path | None, typer.Option(
    "--history", help="The run history (a SQLite file). Default: history.path in the baseline, else "
    "$XDG_DATA_HOME/mailbox-auditor/history.sqlite (~/.local/share/mailbox-auditor/history.sqlite).",
    show_default=False)]
NoHistory = Annotated[bool, typer.Option("--no-history", help="Neither compare with nor record into the history.")]
FailOnNew = Annotated[bool, typer.Option(
    "--fail-on-new", help="Exit 1 only for a FAIL at or above --fail-on that is new since the last run of this "
    "tenant and baseline (ERROR still exits 3). Needs history.")]


MAX_LIMIT = 1_000_000
"""`history --limit` at most (an integer SQLite can hold, and more runs than a history keeps)."""


class ListFormat(StrEnum):
    table = "table"
    json = "json"


def history_command(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant (id, domain or name).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=MAX_LIMIT,
                                          help="How many runs, most recent first.")] = 20,
    history: HistoryOption = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = ListFormat.table,
) -> int:
    """List recorded runs with their counts: failures by severity, ERROR, WAIVED, and drift since the run before.
    A run that never finished (killed, or still running) is listed as incomplete; drift ignores it."""
    from auditor.history.tracking import history_path

    store = HistoryStore(history_path(history, None), create=False)
    runs = store.runs(tenant, limit)
    if fmt is ListFormat.json:
        typer.echo(json.dumps([r.to_dict() for r in runs], indent=2, ensure_ascii=False))
        return 0
    if not runs:
        typer.echo(f"no runs recorded{' for ' + tenant if tenant else ''} in {store.path}")
        return 0
    header = ["RUN", "COLLECTED", "TENANT", "BASELINE", "CRIT", "HIGH", "MED", "LOW", "INFO", "FAIL", "ERROR",
              "WAIVED", "NEW", "RESOLVED", "STATE"]
    rows = [header]
    for r in runs:
        drift = r.drift_counts or {}
        rows.append([str(r.id), r.collected_at, r.tenant_name or r.tenant_domain or r.tenant_id, r.baseline_file,
                     *(str(r.failures(s)) for s in Severity), str(r.count(Status.FAIL)), str(r.count(Status.ERROR)),
                     str(r.count(Status.WAIVED)), str(drift.get("new", "-")), str(drift.get("resolved", "-")),
                     "finished" if r.completed else "incomplete"])
    from auditor.terminal import one_line

    rows = [[one_line(cell) for cell in row] for row in rows]  # a tenant name cannot start a row of its own
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def diff_command(
    old: Annotated[str, typer.Argument(help="The earlier run: a findings.json file or a history run id.")],
    new: Annotated[str, typer.Argument(help="The later run: a findings.json file or a history run id.")],
    history: HistoryOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the differences as JSON.")] = Path(
        "diff.json"),
) -> int:
    """What appeared, disappeared or changed status between two runs (the drift rules of docs/scheduling.md)."""
    from auditor.history.drift import compare
    from auditor.reports.files import write_atomic
    from auditor.runs import single_output

    out = single_output(out, "diff.json")
    store = None
    if _is_run_id(old) or _is_run_id(new):
        from auditor.history.tracking import history_path

        store = HistoryStore(history_path(history, None), create=False)
    old_ref, old_findings = _load(old, store)
    new_ref, new_findings = _load(new, store)
    drift = compare(old_findings, new_findings, old_ref)
    document = {"old_run": old_ref.to_dict(), "new_run": new_ref.to_dict(), **drift.to_dict()}
    del document["previous_run"]  # old_run says it
    write_atomic(out, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    for line in _describe(old_ref, new_ref, drift):
        typer.echo(line)
    typer.echo(f"wrote {out}")
    return 0


def _is_run_id(text: str) -> bool:
    return text.isdigit() and not Path(text).exists()


def _load(arg: str, store: HistoryStore | None) -> tuple[RunRef, tuple[Finding, ...]]:
    if _is_run_id(arg):
        assert store is not None
        run = store.run(int(arg))
        ref = RunRef(collected_at=run.collected_at, tenant_id=run.tenant_id, baseline_file=run.baseline_file,
                     run_id=run.id)
        return ref, store.findings(run.id)
    path = Path(arg)
    if not path.exists():
        raise InputError(f"{arg}: no such file, and not a history run id")
    doc = load_findings(path)
    ref = RunRef(collected_at=doc.run.collected_at, tenant_id=doc.run.tenant_id, baseline_file=doc.run.baseline_file,
                 source=str(path))
    return ref, doc.findings


def _name(ref: RunRef) -> str:
    return f"run {ref.run_id}" if ref.run_id is not None else ref.source


def _describe(old: RunRef, new: RunRef, drift: Drift) -> list[str]:
    from auditor.terminal import one_line

    lines = [one_line(f"{_name(old)} ({old.collected_at}) -> {_name(new)} ({new.collected_at})")]
    if old.tenant_id != new.tenant_id:
        lines.append(one_line(f"note: different tenants ({old.tenant_id} and {new.tenant_id})"))
    lines.append(f"{len(drift.new)} new, {len(drift.resolved)} resolved, {len(drift.changed)} changed, "
                 f"{drift.unchanged} unchanged")
    for label, entries in (("NEW", drift.new), ("RESOLVED", drift.resolved), ("CHANGED", drift.changed)):
        lines += [f"{label:<9}{_line(e)}" for e in entries]
    return lines


def _line(e: DriftEntry) -> str:
    from auditor.terminal import one_line

    before = e.before.value if e.before else "absent"
    after = e.after.value if e.after else "absent"
    where = one_line(e.integration or "tenant")
    return (f"{before} -> {after}  {e.severity.value:<8} {one_line(e.check_id):<11} {where}: {one_line(e.resource)}: "
            f"{one_line(e.message)}")
