"""One portfolio over N machines: `auditor audit --portfolio FILE --shard I/N`.

A shard audits the tenants the partition gives it, and records in `portfolio.json` beside its summary which
portfolio file it split (the file's SHA-256), which shard it is, every tenant of the file with its shard, and its
own rows; `auditor merge-portfolio` (auditor/portfolio_merge.py) checks those records before it merges anything.

The partition (docs/decisions.md, "Portfolios over several machines"): a tenant's shard is the jump consistent
hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm", 2014) of the SHA-256 of its
report folder name, into N buckets. It depends on nothing but the tenant's own name and N: adding or removing a
tenant moves no other tenant, and going from N to N+1 shards moves only the tenants that land in the new one
(about 1/(N+1) of them), so each shard's history file keeps following the same tenants.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from auditor.errors import InputError, OutputError
from auditor.reports.files import write_atomic
from auditor.reports.portfolio_report import VERDICTS, TenantRow

MANIFEST = "portfolio.json"
FORMAT = 1
MAX_SHARDS = 1000
_SPEC = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int = 1
    count: int = 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard(1, 1)


def parse_shard(text: str) -> Shard:
    """`I/N` with 1 <= I <= N <= MAX_SHARDS; ValueError with the reason otherwise."""
    match = _SPEC.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r}: give I/N, the shard's number and the number of shards (e.g. 2/5)")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS:
        raise ValueError(f"{text!r}: N, the number of shards, must be 1 to {MAX_SHARDS}")
    if not 1 <= index <= count:
        raise ValueError(f"{text!r}: I must be 1 to {count} (shards are numbered from 1)")
    return Shard(index, count)


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash: a bucket in [0, buckets) for a 64-bit key. When `buckets`
    grows by one, a key either stays or moves to the new bucket, never between old ones."""
    bucket, j = -1, 0
    while j < buckets:
        bucket = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def shard_of(folder: str, count: int) -> int:
    """The 1-based shard of a tenant (by its report folder name, unique within a portfolio) among `count`."""
    key = int.from_bytes(hashlib.sha256(folder.encode("utf-8")).digest()[:8], "big")
    return jump_hash(key, count) + 1


def file_sha256(path: Path) -> str:
    """The portfolio file's fingerprint: shards of one file have the same; load_portfolio read it already."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def shard_title(title: str, shard: Shard) -> str:
    """The heading of a shard's own summary page; a whole run (1/1) keeps the portfolio's title."""
    name = title or "Portfolio audit"
    return name if shard == WHOLE else f"{name} (shard {shard.index} of {shard.count})"


def manifest(source: Path, sha256: str, title: str, tenants: list[tuple[str, str]], shard: Shard | None,
             rows: list[TenantRow], merged: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a merge verifies: `tenants` are (name, folder) in file order, each given its shard under this
    split; `rows` are this output's tenants, in file order."""
    count = shard.count if shard else (merged or {}).get("count", 1)
    return {
        "tool": "mailbox-auditor", "kind": "portfolio", "format": FORMAT,
        "portfolio": {"file": source.name, "sha256": sha256, "title": title,
                      "tenants": [{"name": n, "folder": f, "shard": shard_of(f, count)} for n, f in tenants]},
        "shard": {"index": shard.index, "count": shard.count} if shard else None,
        "merged": merged,
        "covered": [r.name for r in rows],
        "rows": [asdict(r) for r in rows],
    }


def forget_manifest(out: Path) -> None:
    try:
        (out / MANIFEST).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"{out / MANIFEST}: cannot remove the last run's record: {exc.strerror or exc}") from None


def write_manifest(out: Path, doc: dict[str, Any]) -> Path:
    path = out / MANIFEST
    write_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return path


@dataclass(frozen=True)
class ShardOutput:
    """A shard's folder, read back and checked for form (not yet against the other shards)."""

    folder: Path
    shard: Shard
    sha256: str
    file: str
    title: str
    tenants: tuple[tuple[str, str, int], ...]
    """(name, folder, shard) of every tenant of the portfolio file, in file order."""
    rows: tuple[TenantRow, ...]


def read_shard(folder: Path) -> ShardOutput:
    """A shard's `portfolio.json`; one InputError line (exit 2) naming the folder when it is not one."""
    path = folder / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder}: no {MANIFEST}: not the output of `auditor audit --portfolio FILE --shard I/N`"
                         " (or it did not finish)") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        if doc.get("kind") != "portfolio" or doc.get("format") != FORMAT:
            raise ValueError(f"not a portfolio record of format {FORMAT}")
        if doc.get("shard") is None:
            raise ValueError("a merged summary, not a shard: merge the shards' own folders")
        shard = parse_shard(f"{doc['shard']['index']}/{doc['shard']['count']}")
        head = doc["portfolio"]
        tenants = tuple((str(t["name"]), str(t["folder"]), int(t["shard"])) for t in head["tenants"])
        rows = tuple(_row(r) for r in doc["rows"])
        sha256, title = str(head["sha256"]), str(head.get("title") or "")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a shard's record: {exc}") from None
    return ShardOutput(folder, shard, sha256, str(head.get("file", "")), title, tenants, rows)


_ROW_FIELDS = {f.name for f in fields(TenantRow)}


def _row(raw: dict[str, Any]) -> TenantRow:
    unknown = set(raw) - _ROW_FIELDS
    if unknown:
        raise ValueError(f"row has unknown fields {sorted(unknown)}")
    row = TenantRow(**raw)
    if row.verdict not in VERDICTS or not isinstance(row.exit_code, int) or not isinstance(row.by_status, dict):
        raise ValueError(f"row {row.name!r} is malformed")
    # The folder is copied and the report linked: only the names load_portfolio itself makes.
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row.folder) or row.report not in ("", f"{row.folder}/report.html"):
        raise ValueError(f"row {row.name!r} names a folder or report no portfolio run writes")
    return row
