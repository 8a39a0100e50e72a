"""Fixtures: the collector tests' tenant (20 mailboxes), and one emulator per module serving both transports."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from auditor.emulator.exchange.rest import RestService
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant, load_tenant
from tests.collect_exchange.support import collector_doc

from .support import both_transports


@pytest.fixture(scope="session")
def small_tenant() -> Tenant:
    return load_tenant(copy.deepcopy(collector_doc()))


@pytest.fixture(scope="module")
def emulator(small_tenant: Tenant) -> Iterator[tuple[EmulatorServer, RestService]]:
    with both_transports(small_tenant) as pair:
        yield pair


@pytest.fixture(scope="module")
def server(emulator: tuple[EmulatorServer, RestService]) -> EmulatorServer:
    return emulator[0]

