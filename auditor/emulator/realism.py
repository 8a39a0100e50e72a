"""Realism profiles: which form the emulated Exchange serves where Microsoft documents none.

Each key names one undocumented behaviour; each value is one plausible reality (docs/emulator.md, "Realism
profiles"; the facts behind them are in docs/microsoft-facts.md, "Exchange identities (undocumented forms)").
The collectors must give the same verdicts under every value. Set in the tenant file as
`"emulator": {"realism": {"mailboxId": "mailbox_sid", ...}}`, or for one run with `--realism KEY=VALUE,...`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.errors import ConfigError

# camelCase key -> the values it accepts, the default first.
PROFILES: dict[str, tuple[str, ...]] = {
    "scopeIdentityGuid": ("exchange_guid", "entra_object_id"),
    "mailboxId": ("guid", "exchange_guid", "external_directory_object_id", "mailbox_sid"),
    "roleAssigneeTypeFilter": ("accepted", "terminating_error", "non_terminating_error"),
    "noPolicies": ("empty", "error"),
}

_FIELDS = {key: "".join(f"_{c.lower()}" if c.isupper() else c for c in key) for key in PROFILES}


@dataclass(frozen=True)
class Realism:
    """The forms one emulator serves (the defaults are what the emulator always served)."""

    scope_identity_guid: str = "exchange_guid"
    mailbox_id: str = "guid"
    role_assignee_type_filter: str = "accepted"
    no_policies: str = "empty"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, where: str = "emulator.realism") -> Realism:
        """Validate a realism object; ValueError with one line naming the field for anything unknown."""
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            raise ValueError(f"{where}: must be an object")
        for key, value in values.items():
            if key not in PROFILES:
                raise ValueError(f"{where}: unknown key '{key}' (known: {', '.join(PROFILES)})")
            if value not in PROFILES[key]:
                raise ValueError(f"{where}.{key}: must be one of {', '.join(PROFILES[key])}, not {value!r}")
        return cls(**{_FIELDS[key]: value for key, value in values.items()})

    def as_dict(self) -> dict[str, str]:
        """camelCase key -> value, as the tenant file writes them."""
        return {key: getattr(self, name) for key, name in _FIELDS.items()}

    def describe(self) -> str:
        return ",".join(f"{key}={value}" for key, value in self.as_dict().items())

    def with_spec(self, spec: str | None) -> Realism:
        """These values overridden by `KEY=VALUE[,KEY=VALUE]` (the --realism option); ConfigError, one line."""
        values = self.as_dict()
        for item in (part.strip() for part in (spec or "").split(",")):
            if not item:
                continue
            key, sep, value = (s.strip() for s in item.partition("="))
            if not sep or not value:
                raise ConfigError(f"--realism: '{item}' is not KEY=VALUE (keys: {', '.join(PROFILES)})")
            values[key] = value
        try:
            return Realism.from_mapping(values, "--realism")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def realism_of(doc: Mapping[str, Any]) -> Realism:
    """The realism of a (validated) tenant document; defaults when it sets none."""
    return Realism.from_mapping((doc.get("emulator") or {}).get("realism"))
