"""Fixtures for the Exchange collector tests: the small tenant and one jump-host emulator per module."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from auditor.emulator.exchange import ExchangeService
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant, load_tenant
from tests.emulator_exchange.helpers import running

from .support import collector_doc


@pytest.fixture(scope="session")
def collector_tenant_doc() -> dict[str, Any]:
    return collector_doc()


@pytest.fixture(scope="session")
def collector_tenant(collector_tenant_doc: dict[str, Any]) -> Tenant:
    return load_tenant(copy.deepcopy(collector_tenant_doc))


@pytest.fixture(scope="module")
def jump_host(collector_tenant: Tenant) -> Iterator[tuple[EmulatorServer, ExchangeService]]:
    with running(collector_tenant, "jump-host") as pair:
        yield pair
