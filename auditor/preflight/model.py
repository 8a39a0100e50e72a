"""What `auditor preflight` found: one line per need (OK, or MISSING with the fix) and the observed facts.

The record (`preflight.json`) is meant to be shared: it holds the fixes (our own text), GUIDs, type names and
versions, and never a name, address or message from the tenant. Its `realism` object uses the emulator's realism
keys and values (auditor/emulator/realism.py), so a recorded tenant can be replayed as an emulator profile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditor.emulator.realism import PROFILES, Realism
from auditor.errors import ConfigError

SCHEMA = "auditor-preflight/1"
NOT_OBSERVED = "not_observed"
"""A fact the tenant gave no occasion to see (no policy to compare, no mailbox to test, Exchange not read)."""
UNKNOWN = "unknown"
"""Seen, but in a form none of the realism values describes."""


class NeedStatus(StrEnum):
    OK = "OK"
    MISSING = "MISSING"
    UNCHECKED = "UNCHECKED"
    """Could not be checked (an earlier need failed, or the call failed for another reason)."""


@dataclass(frozen=True)
class Need:
    name: str
    status: NeedStatus
    fix: str = ""
    """What to do, in our own words (shareable); for OK, a short note or nothing."""
    detail: str = ""
    """What the service answered (terminal only: it may carry tenant text, so it never reaches the JSON)."""


@dataclass
class Preflight:
    tenant_id: str
    transport: str
    observed_at: str
    needs: list[Need] = field(default_factory=list)
    realism: dict[str, str] = field(default_factory=dict)
    """Realism key -> observed value, or NOT_OBSERVED / UNKNOWN."""
    output_types: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    exchange_environment: str = ""
    """The -ExchangeEnvironmentName sent (O365Default: none sent), when Exchange was reached."""

    @property
    def complete(self) -> bool:
        return all(n.status is NeedStatus.OK for n in self.needs)

    def replayable(self) -> dict[str, str]:
        """The observed realism values, valid as a tenant file's `emulator.realism`."""
        return {k: self.realism[k] for k in PROFILES if self.realism.get(k) in PROFILES[k]}

    def to_dict(self) -> dict[str, Any]:
        unobserved = {k: self.realism.get(k, NOT_OBSERVED) for k in PROFILES if k not in self.replayable()}
        return {
            "schema": SCHEMA,
            "tenant_id": self.tenant_id,
            "observed_at": self.observed_at,
            "exchange_transport": self.transport,
            **({"exchange_environment": self.exchange_environment} if self.exchange_environment else {}),
            "complete": self.complete,
            "needs": [{"need": n.name, "status": n.status.value,
                       **({"note" if n.status is NeedStatus.OK else "fix": n.fix} if n.fix else {})}
                      for n in self.needs],
            "realism": self.replayable(),
            "unobserved": unobserved,
            "output_types": dict(sorted(self.output_types.items())),
            "versions": dict(sorted(self.versions.items())),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class RecordedProfile:
    """A preflight.json as `auditor audit` reads it: where it came from and what it observed."""

    file: str
    observed_at: str
    realism: dict[str, str]
    tenant_id: str = ""

    def describe(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.realism.items()) or "nothing observed"
        return f"{shown} ({self.file}, {self.observed_at})"

    def fact(self) -> dict[str, Any]:
        return {"file": self.file, "observed_at": self.observed_at, "realism": dict(self.realism)}


def read_profile(path: Path) -> RecordedProfile:
    """A recorded preflight; ConfigError (one line) for a file that is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--preflight {path}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--preflight {path}: not JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ConfigError(f"--preflight {path}: not a preflight record (schema is not {SCHEMA!r}); "
                          "write one with `auditor preflight --out`")
    try:
        realism = Realism.from_mapping(doc.get("realism") or {}, f"--preflight {path}: realism")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    recorded = {k: v for k, v in realism.as_dict().items() if k in (doc.get("realism") or {})}
    return RecordedProfile(path.name, str(doc.get("observed_at") or "unknown time"), recorded,
                           str(doc.get("tenant_id") or ""))
