"""`auditor merge-portfolio`: the shards of a portfolio run on several machines, into one summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def merge_portfolio_command(
    shards: Annotated[list[Path], typer.Argument(
        metavar="SHARD_DIR...",
        help="The output folders of `auditor audit --portfolio FILE --shard I/N --out DIR`, one per shard.",
        show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the merged summary and the tenants' folders go "
                                      "(a new folder, or one an earlier portfolio run or merge wrote).")],
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="Merge even when a shard's folder is not given: its tenants show as not audited "
        "and the exit code is 3.")] = False,
) -> int:
    """Merge the shards of one portfolio into one summary page and CSV, as one machine's run writes them.
    Refused (exit 2) for shards of different portfolio files or splits, a shard given twice, or a missing shard
    (unless --allow-missing: exit 3). Otherwise the exit code is the portfolio's: 3, 1 or 0."""
    from auditor.portfolio_merge import merge_portfolio

    merged = merge_portfolio(list(shards), out, allow_missing)
    for shard in merged.missing:
        names = [r.name for r in merged.rows if r.error.endswith(f"shard {shard} is missing from the merge")]
        typer.echo(f"auditor: shard {shard} is missing: not audited: {', '.join(names) or 'no tenant'}", err=True)
    counts: dict[str, int] = {}
    for row in merged.rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    typer.echo(f"merged {len(shards)} shard{'' if len(shards) == 1 else 's'}: {len(merged.rows)} tenants ("
               + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + ")")
    for name in merged.written:
        typer.echo(f"wrote {name}")
    return merged.exit_code
