"""Graph collection against the real emulator: msal and requests over HTTPS, TLS verification on."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.collect.exchange_reader import read_exchange
from auditor.collect.run import CollectionSettings, collect
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.emulator.faults import FaultPlan
from auditor.models.baseline import Baseline, load_baseline
from auditor.models.snapshot import Snapshot


def demo_doc() -> dict[str, Any]:
    return json.loads(DEMO_TENANT.read_text(encoding="utf-8"))


@pytest.fixture
def tenant_file(tmp_path: Path):
    """Write a (modified) tenant document to a file and return its path."""

    def write(doc: dict[str, Any], name: str = "tenant.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(doc), encoding="utf-8")
        return path

    return write


# One clock for every emulator in these tests, so snapshots of separate runs compare equal.
CLOCK = datetime.now(UTC).replace(microsecond=0)


@contextmanager
def emulated(tenant: Path = DEMO_TENANT, faults: FaultPlan | None = None,
             baseline: Baseline | None = None) -> Iterator[tuple[Any, Baseline, CollectionSettings]]:
    with running_emulator(tenant, faults, now=CLOCK) as server:
        yield server, emulator_baseline(baseline or load_baseline(DEMO_BASELINE), server), emulator_settings(server)


def graph_only(snapshot: Snapshot) -> dict[str, Any]:
    """The Graph evidence of a snapshot, comparable across runs (no timestamps or request counts)."""
    return {name: section.to_dict() for name, section in snapshot.sections.items() if name.startswith("graph.")}


def collect_demo(tenant: Path = DEMO_TENANT, faults: FaultPlan | None = None, **changes: Any) -> Snapshot:
    with emulated(tenant, faults) as (_, base, settings):
        for key, value in changes.items():
            setattr(settings, key, value)
        return collect(base, settings, read_exchange)


@pytest.fixture(scope="session")
def clean_snapshot() -> Snapshot:
    return collect_demo()


def mutated(change) -> dict[str, Any]:
    doc = copy.deepcopy(demo_doc())
    change(doc)
    return doc
