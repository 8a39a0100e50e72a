"""`auditor history` and `auditor diff`, and the history options of `audit` and `demo`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditor.console import Console
from auditor.errors import ConfigError, InputError
from auditor.history.store import HistoryStore
from auditor.models.baseline import Baseline
from auditor.models.findings import Drift, DriftEntry, Finding, FindingsDocument, RunRef, Severity, Status
from auditor.models.snapshot import Snapshot

HistoryOption = Annotated[Path | None, typer.Option(
    "--history", help="The run history (a SQLite file). Default: history.path in the baseline, else "
    "$XDG_DATA_HOME/mailbox-auditor/history.sqlite (~/.local/share/mailbox-auditor/history.sqlite).",
    show_default=False)]
NoHistory = Annotated[bool, typer.Option("--no-history", help="Neither compare with nor record into the history.")]
FailOnNew = Annotated[bool, typer.Option(
    "--fail-on-new", help="Exit 1 only for a FAIL at or above --fail-on that is new since the last run of this "
    "tenant and baseline (ERROR still exits 3). Needs history.")]


class ListFormat(StrEnum):
    table = "table"
    json = "json"


def open_history(option: Path | None, no_history: bool, baseline: Baseline, fail_on_new: bool,
                 on_by_default: bool = True) -> HistoryStore | None:
    """The store a run compares with and records into, opened now so a bad path fails before collection.

    `audit` keeps history by default; `demo` only when asked (--history or the baseline's [history] path), so
    trying the demo never mixes its made-up tenant into a real history."""
    from auditor.history.tracking import history_path

    if no_history and option is not None:
        raise ConfigError("--history and --no-history: choose one")
    wanted = not no_history and (on_by_default or option is not None or bool(baseline.history.path))
    if not wanted:
        if fail_on_new:
            raise ConfigError("--fail-on-new compares with the last run, so it needs history"
                              + (" (drop --no-history)" if no_history else " (give --history PATH)"))
        return None
    store = HistoryStore(history_path(option, baseline))
    store.ensure()
    return store


def finish_run(snapshot: Snapshot, base: Baseline, out: Path, report_formats: list[str], fail_on: Severity,
               console: Console, store: HistoryStore | None, fail_on_new: bool, keep_snapshot: bool = False) -> int:
    """Evaluate, write the reports, compare with and record into the history; the exit code (section 6)."""
    from auditor.commands.live import _write_snapshot, snapshot_problems
    from auditor.pipeline import evaluate_and_report

    console.step("evaluating and writing reports")
    _write_snapshot(snapshot, out / "snapshot.json")
    result = evaluate_and_report(snapshot, base, out, report_formats, store, keep_snapshot, fail_on)
    console.close()
    for line in snapshot_problems(snapshot):
        typer.echo(f"auditor: {line}", err=True)
    for line in result.notes():
        typer.echo(f"auditor: {line}", err=True)
    if store is not None and result.run_id is None:
        typer.echo("auditor: history: this run was not recorded (nothing was collected)", err=True)
    typer.echo(result.summary_line())
    return result.exit_code(fail_on, only_new=fail_on_new)


def history_command(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant (id, domain or name).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs, most recent first.")] = 20,
    history: HistoryOption = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = ListFormat.table,
) -> int:
    """List recorded runs with their counts: failures by severity, ERROR, WAIVED, and drift since the run before."""
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
              "WAIVED", "NEW", "RESOLVED"]
    rows = [header]
    for r in runs:
        drift = r.drift_counts or {}
        rows.append([str(r.id), r.collected_at, r.tenant_name or r.tenant_domain or r.tenant_id, r.baseline_file,
                     *(str(r.failures(s)) for s in Severity), str(r.count(Status.FAIL)), str(r.count(Status.ERROR)),
                     str(r.count(Status.WAIVED)), str(drift.get("new", "-")), str(drift.get("resolved", "-"))])
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
    try:
        doc = FindingsDocument.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise InputError(f"{arg}: no such file, and not a history run id") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{arg}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{arg}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{arg}: not a findings.json document ({type(exc).__name__}: {exc})") from None
    ref = RunRef(collected_at=doc.run.collected_at, tenant_id=doc.run.tenant_id, baseline_file=doc.run.baseline_file,
                 source=str(path))
    return ref, doc.findings


def _name(ref: RunRef) -> str:
    return f"run {ref.run_id}" if ref.run_id is not None else ref.source


def _describe(old: RunRef, new: RunRef, drift: Drift) -> list[str]:
    lines = [f"{_name(old)} ({old.collected_at}) -> {_name(new)} ({new.collected_at})"]
    if old.tenant_id != new.tenant_id:
        lines.append(f"note: different tenants ({old.tenant_id} and {new.tenant_id})")
    lines.append(f"{len(drift.new)} new, {len(drift.resolved)} resolved, {len(drift.changed)} changed, "
                 f"{drift.unchanged} unchanged")
    for label, entries in (("NEW", drift.new), ("RESOLVED", drift.resolved), ("CHANGED", drift.changed)):
        lines += [f"{label:<9}{_line(e)}" for e in entries]
    return lines


def _line(e: DriftEntry) -> str:
    before = e.before.value if e.before else "absent"
    after = e.after.value if e.after else "absent"
    where = e.integration or "tenant"
    return f"{before} -> {after}  {e.severity.value:<8} {e.check_id:<11} {where}: {e.resource}: {e.message}"
