"""Fixtures of the fault suite: a dedicated node, settings and a proxy in front of it.

The node is started once per session on ports 9250/9350 with its own home and
data, and stopped at the end. It never shares data or settings with the node
on 9200 that the other tests use.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from conftest import remove_namespace

from faults.ledger import Ledger
from faults.node import FaultNode, fault_settings
from faults.proxy import FaultProxy, running_proxy
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend, create_backend

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.node


@pytest.fixture(scope="session")
def fault_node() -> Iterator[FaultNode]:
    """The dedicated node, started fresh for this session and stopped after it."""
    node = FaultNode()
    node.start_fresh()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def live_node(fault_node: FaultNode) -> Iterator[FaultNode]:
    """The dedicated node, running and unpaused before and after the test."""
    fault_node.start()
    yield fault_node
    fault_node.resume()
    fault_node.start()
    fault_node.wait_reachable()


@pytest.fixture
def fault_namespace() -> str:
    """A namespace of its own for each test."""
    return "f" + uuid.uuid4().hex[:10]


@pytest.fixture
def direct(live_node: FaultNode, fault_namespace: str) -> Iterator[SearchBackend]:
    """A backend straight to the node, provisioned for the test's namespace and cleaned after."""
    backend = create_backend(fault_settings(live_node.url, fault_namespace).search)
    apply_assets(backend, fault_namespace)
    try:
        yield backend
    finally:
        live_node.resume()
        live_node.start()
        remove_namespace(backend, fault_namespace)
        backend.close()


@pytest.fixture
def proxy(live_node: FaultNode) -> Iterator[FaultProxy]:
    """A fault proxy in front of the dedicated node, in `pass` mode."""
    with running_proxy(live_node.settings.http_port) as running:
        yield running


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A ledger attached to the in-process ingest pipeline for the test."""
    collected = Ledger()
    collected.attach()
    try:
        yield collected
    finally:
        collected.detach()
