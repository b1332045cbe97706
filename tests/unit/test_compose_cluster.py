"""The `cluster` profile of compose.yaml: three OpenSearch nodes that form one cluster.

The file is only parsed here; no container is started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
NODES = ("opensearch-node1", "opensearch-node2", "opensearch-node3")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return compose["services"]


def _cluster_services(services: dict[str, Any]) -> list[str]:
    return sorted(name for name, body in services.items() if "cluster" in body.get("profiles", []))


def test_cluster_profile_has_three_nodes(services: dict[str, Any]) -> None:
    assert _cluster_services(services) == list(NODES)


@pytest.mark.parametrize("node", NODES)
def test_cluster_node_discovery_settings(services: dict[str, Any], node: str) -> None:
    environment = services[node]["environment"]

    assert environment["node.name"] == node
    assert environment["cluster.name"] == "socwb-cluster"
    assert environment["discovery.seed_hosts"].split(",") == list(NODES)
    assert environment["cluster.initial_cluster_manager_nodes"].split(",") == list(NODES)
    assert "discovery.type" not in environment
    assert "cluster_manager" in environment["node.roles"].split(",")
    assert "data" in environment["node.roles"].split(",")


def test_cluster_nodes_share_one_name(services: dict[str, Any]) -> None:
    names = {services[node]["environment"]["cluster.name"] for node in NODES}

    assert len(names) == 1


def test_cluster_nodes_have_own_data_and_shared_snapshots(services: dict[str, Any]) -> None:
    data_volumes = set()
    snapshot_volumes = set()
    for node in NODES:
        mounts = dict(mount.split(":", 1) for mount in services[node]["volumes"])
        by_target = {target: volume for volume, target in mounts.items()}
        data_volumes.add(by_target["/usr/share/opensearch/data"])
        snapshot_volumes.add(by_target[services[node]["environment"]["path.repo"]])

    assert len(data_volumes) == len(NODES)
    assert len(snapshot_volumes) == 1


def test_cluster_nodes_publish_distinct_loopback_ports(services: dict[str, Any]) -> None:
    published = [port for node in NODES for port in services[node]["ports"]]

    assert len(set(published)) == len(NODES)
    assert all(port.startswith("127.0.0.1:") for port in published)
    assert all(port.endswith(":9200") for port in published)


def test_cluster_password_comes_from_env_file(services: dict[str, Any]) -> None:
    for node in NODES:
        password = services[node]["environment"]["OPENSEARCH_INITIAL_ADMIN_PASSWORD"]

        assert password.startswith("${SOCWB_SEARCH__PASSWORD:?")
