"""Fixtures for the Exchange side of the emulator: the tenant, one server per module and mode."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from auditor.emulator.exchange import ExchangeService
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant, load_tenant

from .helpers import running, tenant_doc


@pytest.fixture(scope="session")
def base_doc() -> dict[str, Any]:
    return tenant_doc()


@pytest.fixture(scope="session")
def tenant(base_doc: dict[str, Any]) -> Tenant:
    return load_tenant(copy.deepcopy(base_doc))


@pytest.fixture(scope="module")
def jump(tenant: Tenant) -> Iterator[tuple[EmulatorServer, ExchangeService]]:
    with running(tenant, "jump-host") as pair:
        yield pair


@pytest.fixture(scope="module")
def direct(tenant: Tenant) -> Iterator[tuple[EmulatorServer, ExchangeService]]:
    with running(tenant, "direct") as pair:
        yield pair
