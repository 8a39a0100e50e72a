"""`auditor merge-portfolio --out DIR SHARD_DIR...`: the shards of one portfolio, back into one summary.

Every check comes before anything is written: the folders are shards (each has the `portfolio.json` a finished
`audit --portfolio --shard` writes), of the same portfolio file (its SHA-256) split the same way (the same N),
with no shard or tenant twice, each holding the tenants its portfolio assigns it, and all N present. A missing
shard is refused (naming it and its tenants) unless `allow_missing`: its tenants are then rows "not audited"
and the exit code is 3, as for a tenant a single run could not audit.

The result has the form of a one-machine run: each tenant's folder (copied whole, swapped in as one set as a
run writes it: reports/output_set.py), `portfolio.html` and `portfolio.csv` with the rows in file order, and a
`portfolio.json` saying which shards it merged and which were missing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import ConfigError, OutputError
from auditor.reports.output_set import MANIFEST as SET_MANIFEST
from auditor.reports.output_set import OWN_FILES, OutputSet, check_out_dir, out_folder
from auditor.reports.portfolio_report import TenantRow
from auditor.shards import Shard, ShardOutput, manifest, read_shard, write_manifest


@dataclass(frozen=True)
class MergedPortfolio:
    rows: tuple[TenantRow, ...]
    """Every tenant of the portfolio file, in file order."""
    missing: tuple[Shard, ...]
    written: tuple[Path, ...]

    @property
    def exit_code(self) -> int:
        """As a one-machine run (3, then 1, then 0), and 3 whenever a shard is missing."""
        codes = {r.exit_code for r in self.rows}
        return 3 if 3 in codes or self.missing else 1 if 1 in codes else 0


def merge_portfolio(folders: list[Path], out: Path, allow_missing: bool = False) -> MergedPortfolio:
    shards = [read_shard(folder) for folder in folders]
    first = shards[0]
    _same_portfolio(shards)
    _no_overlap(shards)
    missing = tuple(Shard(i, first.shard.count) for i in range(1, first.shard.count + 1)
                    if i not in {s.shard.index for s in shards})
    if missing and not allow_missing:
        raise ConfigError(f"missing {_describe(missing, first)}: give its output folder too, or --allow-missing "
                          "to merge without it (its tenants then show as not audited, exit 3)")
    _out_apart(out, folders)
    check_out_dir(out, own_only=False)

    by_folder = {row.folder: (row, s) for s in shards for row in s.rows}
    rows: list[TenantRow] = []
    for name, folder, index in first.tenants:
        if folder in by_folder:
            rows.append(by_folder[folder][0])
        else:
            rows.append(TenantRow(name=name, folder=folder, verdict="not-audited", exit_code=3,
                                  error=f"not audited: shard {index}/{first.shard.count} is missing from the merge"))
    for row in rows:
        if row.folder in by_folder:
            _copy_tenant(by_folder[row.folder][1].folder / row.folder, out / row.folder)

    from auditor.reports import portfolio_report

    written = portfolio_report.write(rows, first.title, out)
    record = manifest(Path(first.file), first.sha256, first.title, [(n, f) for n, f, _ in first.tenants], None,
                      rows, merged={"count": first.shard.count,
                                    "shards": sorted(s.shard.index for s in shards),
                                    "missing": [m.index for m in missing]})
    return MergedPortfolio(tuple(rows), missing, (*written, write_manifest(out, record)))


def _same_portfolio(shards: list[ShardOutput]) -> None:
    first = shards[0]
    for other in shards[1:]:
        if other.sha256 != first.sha256:
            raise ConfigError(f"shards of different portfolio files: {first.folder} split {first.file} "
                              f"(sha256 {first.sha256[:12]}), {other.folder} split {other.file} "
                              f"(sha256 {other.sha256[:12]})")
        if other.shard.count != first.shard.count:
            raise ConfigError(f"shards of different splits: {first.folder} is shard {first.shard}, "
                              f"{other.folder} is shard {other.shard}")


def _no_overlap(shards: list[ShardOutput]) -> None:
    seen: dict[int, ShardOutput] = {}
    owner: dict[str, ShardOutput] = {}
    for s in shards:
        if s.shard.index in seen:
            raise ConfigError(f"overlapping shards: {seen[s.shard.index].folder} and {s.folder} are both shard "
                              f"{s.shard}")
        seen[s.shard.index] = s
        assigned = [folder for _, folder, index in s.tenants if index == s.shard.index]
        if [r.folder for r in s.rows] != assigned:
            raise ConfigError(f"{s.folder}: shard {s.shard} does not hold the tenants its portfolio file assigns "
                              "it (edited, or written by another version)")
        for row in s.rows:
            if row.folder in owner:
                raise ConfigError(f"overlapping shards: tenant {row.name!r} is in {owner[row.folder].folder} and "
                                  f"{s.folder}")
            owner[row.folder] = s


def _describe(missing: tuple[Shard, ...], shard: ShardOutput) -> str:
    parts = []
    for m in missing:
        names = [n for n, _, index in shard.tenants if index == m.index]
        parts.append(f"shard {m} ({', '.join(names) if names else 'no tenant'})")
    return ("shards " if len(parts) > 1 else "") + "; ".join(parts)


def _out_apart(out: Path, folders: list[Path]) -> None:
    """--out is neither a shard's folder nor inside or around one: the merge must not write into its inputs."""
    target = out_folder(out)
    for folder in folders:
        source = out_folder(folder)
        if target == source or target.is_relative_to(source) or source.is_relative_to(target):
            raise OutputError(f"{out}: --out must be a folder apart from the shards' ({folder})")


def _copy_tenant(source: Path, target: Path) -> None:
    """One tenant's reports, as the shard wrote them, swapped into the merged folder as one set."""
    if not source.is_dir():
        return
    # The auditor's own files only, and no link: a shard's folder (an artifact) cannot pull other files in.
    files = [p for p in source.iterdir() if p.name in OWN_FILES - {SET_MANIFEST} and p.is_file()
             and not p.is_symlink()]
    with OutputSet(target, _run_key(source)) as staged:
        for path in files:
            try:
                shutil.copy2(path, staged.path / path.name)
                os.chmod(staged.path / path.name, 0o600)
            except OSError as exc:
                raise OutputError(f"{target}: cannot copy {path.name}: {exc.strerror or exc}") from None
        staged.publish()


def _run_key(folder: Path) -> str:
    import json

    try:
        return str(json.loads((folder / SET_MANIFEST).read_text(encoding="utf-8"))["run"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"merged|{folder.name}"
