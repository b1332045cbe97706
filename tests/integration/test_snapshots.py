"""Snapshots of log data streams to a file system repository on a live engine."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from socwb.commands.snapshot import snapshot as snapshot_command
from socwb.integrity import ledger_index, record_digests
from socwb.search import SearchBackend
from socwb.settings import Settings
from socwb.snapshots import (
    SnapshotRetention,
    ensure_repository,
    list_snapshots,
    prune_snapshots,
    remove_repository,
    repository_name,
    repository_root,
    restore_snapshot,
    take_snapshot,
)

pytestmark = pytest.mark.node

DOCUMENT_COUNT = 40


@pytest.fixture
def repository(backend: SearchBackend, namespace: str) -> Iterator[str]:
    """The namespace's repository; its snapshots, registration and folder are removed after."""
    root = repository_root(backend)
    yield repository_name(namespace)
    remove_repository(backend, namespace)
    folder = Path(root) / repository_name(namespace)
    if folder.is_dir() and namespace in folder.name:
        # The folder exists locally only when the engine runs on this machine.
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def data_stream(backend: SearchBackend, namespace: str) -> str:
    name = f"logs-app.app_json-{namespace}"
    backend.put_index_template(
        f"socwb-snapshot-test-{namespace}",
        {
            "index_patterns": [name],
            "data_stream": {},
            "priority": 500,
            "template": {
                "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
                "mappings": {"properties": {"@timestamp": {"type": "date"}}},
            },
        },
    )
    operations: list[dict[str, object]] = []
    for number in range(DOCUMENT_COUNT):
        operations.append({"create": {"_index": name}})
        operations.append({"@timestamp": "2026-01-01T00:00:00Z", "message": f"event {number}"})
    result, _ = backend.bulk(operations, refresh=True)
    assert result.created == DOCUMENT_COUNT
    return name


def test_repository_root_comes_from_node_settings(backend: SearchBackend) -> None:
    settings = backend.request("GET", "/_nodes/settings")
    node = next(iter(settings["nodes"].values()))
    configured = node["settings"]["path"]["repo"]
    configured = configured if isinstance(configured, list) else [configured]

    assert repository_root(backend) == configured[0]


def test_repository_registered_under_path_repo(
    backend: SearchBackend, namespace: str, repository: str
) -> None:
    ensure_repository(backend, namespace)

    stored = backend.get_json(f"/_snapshot/{repository}")

    assert stored is not None
    assert stored[repository]["type"] == "fs"
    location = stored[repository]["settings"]["location"]
    assert location == f"{repository_root(backend)}/{repository}"


def test_restore_brings_back_document_count(
    backend: SearchBackend, namespace: str, data_stream: str, repository: str
) -> None:
    record_digests(backend, namespace, datetime.now(UTC))
    info = take_snapshot(backend, namespace, datetime.now(UTC))
    count_at_snapshot = backend.count(data_stream)
    backend.delete(f"/_data_stream/{data_stream}")
    assert backend.get_json(f"/_data_stream/{data_stream}") is None

    restore_snapshot(backend, namespace, info.name, indices=data_stream)
    backend.refresh(data_stream)

    assert info.state == "SUCCESS"
    assert data_stream in info.data_streams
    assert ledger_index(namespace) in info.indices
    assert backend.count(data_stream) == count_at_snapshot == DOCUMENT_COUNT


def test_list_returns_snapshots_oldest_first(
    backend: SearchBackend, namespace: str, data_stream: str, repository: str
) -> None:
    first = take_snapshot(backend, namespace, datetime(2026, 1, 1, tzinfo=UTC))
    second = take_snapshot(backend, namespace, datetime(2026, 1, 2, tzinfo=UTC))

    names = [item.name for item in list_snapshots(backend, namespace)]

    assert names == [first.name, second.name]


def test_prune_keeps_newest(
    backend: SearchBackend, namespace: str, data_stream: str, repository: str
) -> None:
    taken = [
        take_snapshot(backend, namespace, datetime(2026, 1, day, tzinfo=UTC)) for day in (1, 2, 3)
    ]

    deleted = prune_snapshots(
        backend,
        namespace,
        SnapshotRetention(max_age=timedelta(seconds=1)),
        datetime.now(UTC) + timedelta(days=1),
    )

    remaining = [item.name for item in list_snapshots(backend, namespace)]
    assert [item.name for item in deleted] == [taken[0].name, taken[1].name]
    assert remaining == [taken[2].name]


def test_list_without_repository_is_empty(backend: SearchBackend, namespace: str) -> None:
    assert list_snapshots(backend, namespace) == []


def test_commands_take_list_and_prune(
    backend: SearchBackend, settings: Settings, data_stream: str, repository: str
) -> None:
    runner = CliRunner()

    taken = runner.invoke(snapshot_command, ["take", "--format", "json"], obj=settings)
    listed = runner.invoke(snapshot_command, ["list", "--format", "json"], obj=settings)
    pruned = runner.invoke(snapshot_command, ["prune", "--keep-last", "1"], obj=settings)
    usage = runner.invoke(snapshot_command, ["prune"], obj=settings)

    assert taken.exit_code == 0, taken.output
    assert json.loads(taken.stdout)[0]["state"] == "SUCCESS"
    assert [item["name"] for item in json.loads(listed.stdout)] == [
        json.loads(taken.stdout)[0]["name"]
    ]
    assert pruned.exit_code == 0, pruned.output
    assert usage.exit_code == 2
