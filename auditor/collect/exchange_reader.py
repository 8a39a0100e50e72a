"""Exchange collection entry point used by `collect`, `audit` and `demo` (wired to the PSRP collector)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditor.collect.run import CollectionSettings
from auditor.models.baseline import Baseline
from auditor.models.snapshot import SECTION_NAMES, Section, SectionStatus


def read_exchange(baseline: Baseline, settings: CollectionSettings,
                  exchange_token: Callable[[], str]) -> tuple[dict[str, Section], dict[str, Any]]:
    names = [n for n in SECTION_NAMES if n.startswith("exchange.")] + ["canaries"]
    reason = "Exchange collection is not wired yet"
    return {n: Section(n, "exo", SectionStatus.NOT_COLLECTED, reason) for n in names}, {}
