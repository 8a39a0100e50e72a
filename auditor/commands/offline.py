"""Commands that need no tenant: the catalog, offline evaluation, re-rendering, the starter baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.commands.options import BaselineFile, CatalogFormat, FailOn, Formats, formats
from auditor.errors import ConfigError
from auditor.models.findings import Severity


def checks_command(
    fmt: Annotated[CatalogFormat, typer.Option("--format", "-f", help="table, json or markdown.")] = (
        CatalogFormat.table),
) -> int:
    """List the check catalog."""
    from auditor.catalog_doc import render_catalog

    typer.echo(render_catalog(fmt.value), nl=False)
    return 0


def evaluate_command(
    snapshot: Annotated[Path, typer.Argument(help="A snapshot.json written by `auditor collect` or `auditor demo`.")],
    baseline: BaselineFile,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the reports.")] = Path("audit-out"),
    fail_on: FailOn = Severity.LOW,
    fmt: Formats = None,
) -> int:
    """Re-evaluate saved evidence offline: same snapshot and baseline, same findings. The snapshot is written
    beside the reports, so --out holds the evidence with what was concluded from it."""
    from auditor.models.baseline import load_baseline
    from auditor.models.snapshot import load_snapshot
    from auditor.pipeline import evaluate_and_report
    from auditor.reports.output_set import check_out_dir

    check_out_dir(out)
    base = load_baseline(baseline)
    snap = load_snapshot(snapshot)
    result = evaluate_and_report(snap, base, out, formats(fmt), fail_on=fail_on, with_snapshot=True)
    typer.echo(result.summary_line())
    return result.exit_code(fail_on)


def report_command(
    findings: Annotated[Path, typer.Argument(help="A findings.json written by an earlier run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the reports.")] = Path("audit-out"),
    fmt: Formats = None,
) -> int:
    """Re-render reports from findings.json without re-evaluating."""
    from auditor.models.findings import load_findings
    from auditor.pipeline import publish_reports
    from auditor.reports.output_set import check_out_dir

    check_out_dir(out)
    doc = load_findings(findings)
    for path in publish_reports(doc, out, formats(fmt)):
        typer.echo(f"wrote {path}")
    return 0


def init_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the starter baseline; - for stdout.")] = Path(
        "baseline.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> int:
    """Write a commented starter baseline listing every key."""
    from auditor.reports.files import write_atomic
    from auditor.starter import STARTER_BASELINE

    if str(out) == "-":
        typer.echo(STARTER_BASELINE, nl=False)
        return 0
    if out.exists() and not force:
        raise ConfigError(f"{out}: already exists (use --force to overwrite)")
    write_atomic(out, STARTER_BASELINE)
    typer.echo(f"wrote {out}: fill in [tenant], [auth] and your [[integration]] entries")
    return 0
