"""Snapshots of the log data streams and the integrity ledger to a separate repository.

The repository is a shared file system (`type: fs`) under the engine's `path.repo`
unless one of the same name is registered already, for example an S3 repository
whose bucket has Object Lock in compliance mode (see docs/integrity.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, TypeAlias

from socwb.alerts.store import alerts_index
from socwb.errors import ConfigurationError, WorkbenchError
from socwb.integrity import ledger_index, log_data_stream_pattern
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

JsonObject: TypeAlias = dict[str, Any]

REPOSITORY_PREFIX = "socwb-snapshots-"
SNAPSHOT_PREFIX = "socwb-"


class SnapshotError(WorkbenchError):
    """A snapshot could not be taken, restored or deleted, or finished incomplete."""


def repository_name(namespace: str) -> str:
    """Return the name of the namespace's snapshot repository."""
    return f"{REPOSITORY_PREFIX}{namespace}"


def snapshot_name(namespace: str, now: datetime) -> str:
    """Return a snapshot name such as `socwb-default-20260101t120000000000z`.

    The time is UTC to the microsecond. Snapshot names must be lowercase, so the
    separators `t` and `z` are too.
    """
    return f"{SNAPSHOT_PREFIX}{namespace}-{now.astimezone(UTC):%Y%m%dt%H%M%S%fz}"


def snapshot_indices(namespace: str) -> str:
    """Return the comma-separated targets of a snapshot: log data streams, ledger and alerts.

    The alerts index is included so that a restore brings back each alert's
    status with the events it was raised on.
    """
    return (
        f"{log_data_stream_pattern(namespace)},{ledger_index(namespace)},{alerts_index(namespace)}"
    )


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot as the repository lists it.

    Attributes:
        state: `SUCCESS`, `PARTIAL`, `FAILED` or `IN_PROGRESS`.
        started_at: Start time (UTC).
        indices: Indices in the snapshot, including data stream backing indices.
        data_streams: Data streams in the snapshot.
    """

    name: str
    state: str
    started_at: datetime
    indices: tuple[str, ...]
    data_streams: tuple[str, ...]

    @classmethod
    def from_response(cls, item: JsonObject) -> SnapshotInfo:
        """Build from one item of a snapshot API's `snapshots` list."""
        return cls(
            name=str(item["snapshot"]),
            state=str(item.get("state", "UNKNOWN")),
            started_at=datetime.fromtimestamp(int(item["start_time_in_millis"]) / 1000, tz=UTC),
            indices=tuple(sorted(item.get("indices", []))),
            data_streams=tuple(sorted(item.get("data_streams", []))),
        )

    def to_dict(self) -> JsonObject:
        """Return JSON-ready values."""
        return {
            "name": self.name,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "indices": list(self.indices),
            "data_streams": list(self.data_streams),
        }


@dataclass(frozen=True)
class SnapshotRetention:
    """How many snapshots to keep and for how long.

    Attributes:
        keep_last: Keep at most this many of the newest snapshots, or None for no limit.
        max_age: Delete snapshots older than this, or None for no limit.
    """

    keep_last: int | None = None
    max_age: timedelta | None = None

    def __post_init__(self) -> None:
        if self.keep_last is not None and self.keep_last < 1:
            raise ValueError(f"invalid keep_last {self.keep_last}: keep at least 1 snapshot")
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise ValueError(f"invalid max_age {self.max_age}: use a positive age")


def _snapshot_order(item: SnapshotInfo) -> tuple[datetime, str]:
    # Names end in the time passed to take_snapshot, so they break ties in start time.
    return item.started_at, item.name


def select_expired(
    snapshots: Sequence[SnapshotInfo], retention: SnapshotRetention, now: datetime
) -> list[SnapshotInfo]:
    """Return the snapshots that the retention deletes, oldest first.

    A snapshot expires when it is not among the newest `keep_last`, or when it
    is older than `max_age`. The newest snapshot and the newest successful one
    never expire, so a failing snapshot job cannot leave the repository empty.
    """
    ordered = sorted(snapshots, key=_snapshot_order, reverse=True)
    protected = {ordered[0].name} if ordered else set()
    successful = [item for item in ordered if item.state == "SUCCESS"]
    if successful:
        protected.add(successful[0].name)
    expired = []
    for position, item in enumerate(ordered):
        if item.name in protected:
            continue
        beyond_count = retention.keep_last is not None and position >= retention.keep_last
        too_old = retention.max_age is not None and now - item.started_at > retention.max_age
        if beyond_count or too_old:
            expired.append(item)
    return list(reversed(expired))


def repository_root(backend: SearchBackend) -> str:
    """Return the first `path.repo` folder that every node of the cluster lists.

    Raises:
        ConfigurationError: A node has no `path.repo` setting, or the nodes share none.
    """
    response = backend.request(
        "GET", "/_nodes/settings", params={"filter_path": "nodes.*.settings.path.repo"}
    )
    return shared_repo_path((response or {}).get("nodes", {}))


def shared_repo_path(nodes: Mapping[str, JsonObject]) -> str:
    """Return the first `path.repo` folder common to all nodes of a `_nodes/settings` response.

    Raises:
        ConfigurationError: A node has no `path.repo` setting, or the nodes share none.
    """
    shared: list[str] | None = None
    for node_id, node in nodes.items():
        paths = _repo_paths(node)
        if not paths:
            raise ConfigurationError(
                f"node {node_id} has no path.repo setting, so it cannot use a file system "
                "snapshot repository: set path.repo in opensearch.yml or elasticsearch.yml "
                "to a folder that every node mounts, and restart the nodes"
            )
        shared = paths if shared is None else [path for path in shared if path in paths]
    if not shared:
        raise ConfigurationError(
            "no path.repo folder is set on every node (or _nodes/settings returned no "
            "nodes): set the same path.repo on every node"
        )
    return shared[0]


def _repo_paths(node: JsonObject) -> list[str]:
    value = node.get("settings", {}).get("path", {}).get("repo")
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(part) for part in value]
    return []


def ensure_repository(backend: SearchBackend, namespace: str) -> JsonObject:
    """Register the namespace's file system repository unless it exists, and return it.

    An existing repository of that name is left as it is, whatever its type,
    so an administrator can register an S3 repository in its place.

    Raises:
        ConfigurationError: `path.repo` is not set on the nodes.
    """
    name = repository_name(namespace)
    existing = backend.get_json(f"/_snapshot/{name}")
    if existing and name in existing:
        return dict(existing[name])
    location = str(PurePosixPath(repository_root(backend)) / name)
    body: JsonObject = {"type": "fs", "settings": {"location": location, "compress": True}}
    backend.request("PUT", f"/_snapshot/{name}", body=body)
    logger.info("registered snapshot repository repository=%s location=%s", name, location)
    return body


def take_snapshot(backend: SearchBackend, namespace: str, now: datetime) -> SnapshotInfo:
    """Snapshot the namespace's log data streams and ledger, and wait until it finishes.

    Raises:
        SnapshotError: The snapshot finished in a state other than SUCCESS.
    """
    ensure_repository(backend, namespace)
    repository = repository_name(namespace)
    name = snapshot_name(namespace, now)
    body = {
        "indices": snapshot_indices(namespace),
        "ignore_unavailable": True,
        "include_global_state": False,
        "metadata": {"taken_by": "socwb", "namespace": namespace},
    }
    response = backend.request(
        "PUT",
        f"/_snapshot/{repository}/{name}",
        params={"wait_for_completion": "true"},
        body=body,
    )
    info = SnapshotInfo.from_response(response["snapshot"])
    if info.state != "SUCCESS":
        failures = response["snapshot"].get("failures", [])
        raise SnapshotError(
            f"snapshot {name} in repository {repository} finished as {info.state}: "
            f"{failures[:3] or 'no failure reported'}; check the repository's free space "
            "and the cluster health, then take it again"
        )
    logger.info(
        "took snapshot repository=%s snapshot=%s indices=%d",
        repository,
        name,
        len(info.indices),
    )
    return info


def list_snapshots(backend: SearchBackend, namespace: str) -> list[SnapshotInfo]:
    """List the namespace's snapshots, oldest first; none when the repository is missing."""
    repository = repository_name(namespace)
    response = backend.get_json(f"/_snapshot/{repository}/_all")
    if response is None:
        return []
    prefix = f"{SNAPSHOT_PREFIX}{namespace}-"
    snapshots = [
        SnapshotInfo.from_response(item)
        for item in response.get("snapshots", [])
        if str(item.get("snapshot", "")).startswith(prefix)
    ]
    return sorted(snapshots, key=_snapshot_order)


def restore_snapshot(
    backend: SearchBackend, namespace: str, snapshot: str, indices: str | None = None
) -> JsonObject:
    """Restore data streams and indices from a snapshot under their own names.

    A data stream or index of the same name must not exist: delete it, or close
    the index, first.

    Args:
        indices: Comma-separated targets; all log data streams and the ledger when None.

    Returns:
        The `snapshot` part of the restore response (shards restored).
    """
    repository = repository_name(namespace)
    body = {
        "indices": indices or snapshot_indices(namespace),
        "include_global_state": False,
        "ignore_unavailable": True,
    }
    response = backend.request(
        "POST",
        f"/_snapshot/{repository}/{snapshot}/_restore",
        params={"wait_for_completion": "true"},
        body=body,
    )
    result = dict(response.get("snapshot", {}))
    shards = result.get("shards", {})
    if shards.get("failed"):
        raise SnapshotError(
            f"restore of snapshot {snapshot} failed on {shards['failed']} of "
            f"{shards.get('total')} shards; check the cluster health and retry"
        )
    logger.info("restored snapshot repository=%s snapshot=%s", repository, snapshot)
    return result


def prune_snapshots(
    backend: SearchBackend,
    namespace: str,
    retention: SnapshotRetention,
    now: datetime,
    *,
    dry_run: bool = False,
) -> list[SnapshotInfo]:
    """Delete the snapshots that the retention selects, oldest first.

    Returns:
        The snapshots deleted, or the ones that would be deleted when `dry_run`.
    """
    expired = select_expired(list_snapshots(backend, namespace), retention, now)
    repository = repository_name(namespace)
    for item in expired:
        if dry_run:
            continue
        backend.delete(f"/_snapshot/{repository}/{item.name}")
        logger.info("deleted snapshot repository=%s snapshot=%s", repository, item.name)
    return expired


def remove_repository(backend: SearchBackend, namespace: str) -> None:
    """Delete every snapshot of the namespace and unregister its repository.

    The engine keeps the repository's folder, now without snapshot data.
    """
    repository = repository_name(namespace)
    for item in list_snapshots(backend, namespace):
        backend.delete(f"/_snapshot/{repository}/{item.name}")
    if backend.delete(f"/_snapshot/{repository}"):
        logger.info("removed snapshot repository=%s", repository)
