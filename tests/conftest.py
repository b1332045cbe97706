"""Shared fixtures: an isolated environment, settings, and a live search engine.

The engine comes from, in order: SOCWB_TEST_SEARCH_URL; an OpenSearch
container through testcontainers when a Docker engine responds; otherwise the
local node that ``socwb node start`` assembles, started once per session and
stopped at the end only if this session started it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from socwb.search import SearchBackend, create_backend
from socwb.settings import Settings

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
KEPT_VARIABLES = ("SOCWB_TEST_SEARCH_URL", "SOCWB_DATASETS")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove SOCWB_* variables so a developer's settings cannot change a test."""
    for name in list(os.environ):
        if name.startswith("SOCWB_") and name not in KEPT_VARIABLES:
            monkeypatch.delenv(name)


def _docker_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
    except Exception:  # noqa: BLE001 - any failure means no usable Docker engine
        return False
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def search_url() -> Iterator[str]:
    """URL of a live engine for this test session."""
    configured = os.environ.get("SOCWB_TEST_SEARCH_URL")
    if configured:
        yield configured.rstrip("/")
        return
    if _docker_answers():
        from testcontainers.opensearch import OpenSearchContainer

        with OpenSearchContainer("opensearchproject/opensearch:2.19.4") as container:
            yield container.get_config()["host"]
        return
    yield from _local_node_url()


def _local_node_url() -> Iterator[str]:
    from socwb.node import LocalNode
    from socwb.settings import NodeSettings

    node = LocalNode(NodeSettings())
    status, started = node.start()
    try:
        yield status.url
    finally:
        if started:
            node.stop()


@pytest.fixture
def namespace() -> str:
    """A namespace no other test uses, so indices and templates never collide."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def settings(search_url: str, namespace: str) -> Settings:
    """Settings pointing at the live engine, with this test's namespace."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        search={"urls": [search_url], "namespace": namespace, "max_retries": 2},
    )


@pytest.fixture
def backend(settings: Settings, namespace: str) -> Iterator[SearchBackend]:
    """The engine's adapter; everything created under this test's namespace is removed after."""
    search = create_backend(settings.search)
    try:
        yield search
    finally:
        remove_namespace(search, namespace)
        search.close()


def remove_namespace(search: SearchBackend, namespace: str) -> None:
    """Delete data streams, indices, templates and pipelines named after ``namespace``."""
    # The self-test keeps its canaries in data streams named `...-<namespace>_selftest`.
    search.delete(f"/_data_stream/*-{namespace}*")
    search.request(
        "DELETE",
        f"/*{namespace}*",
        params={"expand_wildcards": "all", "ignore_unavailable": "true"},
    )
    for kind in ("_index_template", "_component_template"):
        listing = search.get_json(f"/{kind}/*{namespace}*") or {}
        key = "index_templates" if kind == "_index_template" else "component_templates"
        for template in listing.get(key, []):
            search.delete(f"/{kind}/{template['name']}")
    pipelines = search.get_json(f"/_ingest/pipeline/*{namespace}*") or {}
    for name in pipelines:
        search.delete(f"/_ingest/pipeline/{name}")
