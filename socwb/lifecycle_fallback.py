"""Run ISM retention policies from soc-workbench when the cluster has no ISM plugin.

Some OpenSearch clusters (the minimal distribution, or the local node that is
assembled from Maven Central, where the ISM plugin is not published) cannot
run ISM. Retention must still hold there, so ``apply`` stores the same ISM
policy bodies in a soc-workbench index, and ``run_lifecycle`` carries out the
subset of ISM they use: rollover, read_only and delete, with the transition
conditions min_index_age, min_rollover_age, min_doc_count and min_size.

The state of every managed backing index is kept in the same index, so the
record survives restarts and shows an auditor what ran and when.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from socwb.errors import ProvisioningError, QueryRejectedError
from socwb.retention import parse_time_value
from socwb.search import QueryBody, SearchBackend
from socwb.timeutil import parse_utc_iso, utc_iso

logger = logging.getLogger(__name__)

FALLBACK_NOTE = (
    "the ISM plugin is not loaded on this cluster, so retention policies are stored in "
    "soc-workbench and carried out by `socwb lifecycle run` (the detector service runs it "
    "on its schedule)"
)

_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def fallback_index(namespace: str) -> str:
    """Index holding fallback policies and per-index lifecycle state."""
    return f"socwb-lifecycle-{namespace}"


def _namespace_of(policy_name: str) -> str:
    return policy_name.rsplit("-", 1)[-1]


_STATE_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "kind": {"type": "keyword"},
        "name": {"type": "keyword"},
        "body": {"type": "object", "enabled": False},
        "index": {"type": "keyword"},
        "data_stream": {"type": "keyword"},
        "policy": {"type": "keyword"},
        "state": {"type": "keyword"},
        "action_position": {"type": "integer"},
        "rolled_over_at": {"type": "date"},
        "deleted_at": {"type": "date"},
        "history": {"type": "object", "enabled": False},
    },
}


def ensure_fallback_index(backend: SearchBackend, namespace: str) -> None:
    """Create the fallback index with its mapping unless it exists."""
    index = fallback_index(namespace)
    if backend.get_json(f"/{index}/_mapping") is not None:
        return
    body = {"settings": {"index.auto_expand_replicas": "0-1"}, "mappings": _STATE_MAPPING}
    try:
        backend.request("PUT", f"/{index}", body=body)
    except QueryRejectedError as exc:
        if "resource_already_exists" not in str(exc):
            raise


def store_fallback_policy(backend: SearchBackend, name: str, body: QueryBody) -> None:
    """Store an ISM policy body for the fallback enforcer; replaces an older version."""
    ensure_fallback_index(backend, _namespace_of(name))
    index = fallback_index(_namespace_of(name))
    document = {"kind": "policy", "name": name, "body": body}
    backend.index_document(index, document, doc_id=f"policy-{name}", op_type="index", refresh=True)


def stored_fallback_policy(backend: SearchBackend, name: str) -> QueryBody | None:
    """Return a stored fallback policy body, or None when absent."""
    found = backend.get_document(fallback_index(_namespace_of(name)), f"policy-{name}")
    if found is None:
        return None
    body: QueryBody = found["_source"]["body"]
    return body


@dataclass
class LifecycleReport:
    """Actions of one ``run_lifecycle`` pass, index by index."""

    rolled_over: list[str] = field(default_factory=list)
    made_read_only: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    transitions: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class IndexState:
    """Lifecycle state of one backing index, as stored between runs."""

    index: str
    data_stream: str
    policy: str
    state: str
    action_position: int = 0
    rolled_over_at: datetime | None = None
    deleted_at: datetime | None = None
    history: list[dict[str, str]] = field(default_factory=list)

    def to_document(self) -> dict[str, Any]:
        """Return the state as the stored document."""
        return {
            "kind": "index_state",
            "index": self.index,
            "data_stream": self.data_stream,
            "policy": self.policy,
            "state": self.state,
            "action_position": self.action_position,
            "rolled_over_at": _iso(self.rolled_over_at),
            "deleted_at": _iso(self.deleted_at),
            "history": self.history[-50:],
        }


def run_lifecycle(
    backend: SearchBackend, namespace: str, now: datetime | None = None
) -> LifecycleReport:
    """Carry out every stored policy once on the backing indices it covers.

    Args:
        backend: the engine.
        namespace: the namespace whose policies run.
        now: the current time (UTC); tests pass a later time to move the clock.

    Returns:
        What was rolled over, made read-only, deleted, and any failure.
    """
    now = now or datetime.now(UTC)
    report = LifecycleReport()
    for name, policy in _stored_policies(backend, namespace).items():
        for data_stream, indices in _covered_data_streams(backend, policy).items():
            for index in indices:
                _run_index(backend, namespace, name, policy, data_stream, index, now, report)
    backend.refresh(fallback_index(namespace))
    return report


def _run_index(
    backend: SearchBackend,
    namespace: str,
    policy_name: str,
    policy: QueryBody,
    data_stream: str,
    index: str,
    now: datetime,
    report: LifecycleReport,
) -> None:
    state = _load_state(backend, namespace, index) or IndexState(
        index, data_stream, policy_name, policy["policy"]["default_state"]
    )
    if state.deleted_at is not None:
        return
    try:
        _advance(backend, policy["policy"], state, now, report)
    except QueryRejectedError as exc:
        logger.error("lifecycle step failed index=%s policy=%s error=%s", index, policy_name, exc)
        report.failures.append((index, str(exc)))
        state.history.append({"at": _iso(now) or "", "event": f"failed: {exc}"})
    _save_state(backend, namespace, state)


def _advance(
    backend: SearchBackend,
    policy: Mapping[str, Any],
    state: IndexState,
    now: datetime,
    report: LifecycleReport,
) -> None:
    states = {item["name"]: item for item in policy["states"]}
    for _ in range(len(states) + 1):
        current = states.get(state.state)
        if current is None:
            raise ProvisioningError(f"policy {state.policy} has no state {state.state!r}")
        actions = current.get("actions", [])
        while state.action_position < len(actions):
            if not _run_action(backend, actions[state.action_position], state, now, report):
                return
            state.action_position += 1
            if state.deleted_at is not None:
                return
        target = _next_state(backend, current.get("transitions", []), state, now)
        if target is None:
            return
        report.transitions.append((state.index, target))
        state.history.append({"at": _iso(now) or "", "event": f"{state.state} -> {target}"})
        state.state, state.action_position = target, 0


def _run_action(
    backend: SearchBackend,
    action: Mapping[str, Any],
    state: IndexState,
    now: datetime,
    report: LifecycleReport,
) -> bool:
    """Run one ISM action; return False when it must wait for a later run."""
    name, settings = next(iter(action.items()))
    if name == "rollover":
        return _rollover(backend, settings, state, now, report)
    if name == "read_only":
        backend.request("PUT", f"/{state.index}/_settings", body={"index.blocks.write": True})
        report.made_read_only.append(state.index)
        state.history.append({"at": _iso(now) or "", "event": "read_only"})
        return True
    if name == "delete":
        backend.request("DELETE", f"/{state.index}")
        state.deleted_at = now
        report.deleted.append(state.index)
        state.history.append({"at": _iso(now) or "", "event": "deleted"})
        logger.info("lifecycle deleted index=%s policy=%s", state.index, state.policy)
        return True
    raise ProvisioningError(
        f"policy {state.policy} uses the ISM action {name!r}, which the fallback enforcer "
        "does not run; use rollover, read_only and delete, or install the ISM plugin"
    )


def _rollover(
    backend: SearchBackend,
    conditions: Mapping[str, Any],
    state: IndexState,
    now: datetime,
    report: LifecycleReport,
) -> bool:
    if not _is_write_index(backend, state.data_stream, state.index):
        # Rolled over already (by an earlier run or by hand): its successor's
        # creation is the rollover time.
        state.rolled_over_at = state.rolled_over_at or _successor_created(backend, state) or now
        return True
    stats = _index_stats(backend, state.index)
    if not any(
        _condition_holds(key, value, stats, state, now) for key, value in conditions.items()
    ):
        return False
    backend.request("POST", f"/{state.data_stream}/_rollover")
    state.rolled_over_at = now
    report.rolled_over.append(state.index)
    state.history.append({"at": _iso(now) or "", "event": "rolled over"})
    logger.info("lifecycle rolled over data_stream=%s index=%s", state.data_stream, state.index)
    return True


def _next_state(
    backend: SearchBackend, transitions: list[Mapping[str, Any]], state: IndexState, now: datetime
) -> str | None:
    for transition in transitions:
        conditions = transition.get("conditions") or {}
        if not conditions:
            return str(transition["state_name"])
        stats = _index_stats(backend, state.index)
        if all(
            _condition_holds(key, value, stats, state, now) for key, value in conditions.items()
        ):
            return str(transition["state_name"])
    return None


def _condition_holds(
    key: str, value: Any, stats: IndexStats, state: IndexState, now: datetime
) -> bool:
    if key == "min_index_age":
        return now - stats.created >= parse_time_value(
            value, f"policy {state.policy} condition {key}"
        )
    if key == "min_rollover_age":
        return state.rolled_over_at is not None and (
            now - state.rolled_over_at
            >= parse_time_value(value, f"policy {state.policy} condition {key}")
        )
    if key == "min_doc_count":
        return stats.docs >= int(value)
    if key in ("min_size", "min_primary_shard_size"):
        return stats.size_bytes >= parse_size(str(value))
    raise ProvisioningError(f"policy {state.policy} uses the unknown condition {key!r}")


def parse_size(text: str) -> int:
    """Parse an ISM size value such as ``50gb`` into bytes."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(b|kb|mb|gb|tb)", text.strip().lower())
    if match is None:
        raise ProvisioningError(
            f"invalid size value {text!r}; use a number with b, kb, mb, gb or tb"
        )
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _stored_policies(backend: SearchBackend, namespace: str) -> dict[str, QueryBody]:
    index = fallback_index(namespace)
    query = {"size": 1000, "query": {"term": {"kind": "policy"}}}
    try:
        response = backend.search(index, query)
    except QueryRejectedError as exc:
        if exc.status == 404:
            return {}
        raise
    return {hit["_source"]["name"]: hit["_source"]["body"] for hit in response["hits"]["hits"]}


def _covered_data_streams(backend: SearchBackend, policy: QueryBody) -> dict[str, list[str]]:
    patterns = [
        pattern
        for template in policy["policy"].get("ism_template", [])
        for pattern in template.get("index_patterns", [])
    ]
    if not patterns:
        return {}
    found = backend.get_json("/_data_stream/" + ",".join(patterns)) or {}
    covered = {}
    for stream in found.get("data_streams", []):
        if any(fnmatch.fnmatch(stream["name"], pattern) for pattern in patterns):
            covered[stream["name"]] = [index["index_name"] for index in stream["indices"]]
    return covered


def _is_write_index(backend: SearchBackend, data_stream: str, index: str) -> bool:
    found = backend.get_json(f"/_data_stream/{data_stream}") or {}
    streams = found.get("data_streams", [])
    return bool(streams) and streams[0]["indices"][-1]["index_name"] == index


def _successor_created(backend: SearchBackend, state: IndexState) -> datetime | None:
    found = backend.get_json(f"/_data_stream/{state.data_stream}") or {}
    names = [
        item["index_name"] for stream in found.get("data_streams", []) for item in stream["indices"]
    ]
    if state.index not in names or names.index(state.index) + 1 >= len(names):
        return None
    return _index_stats(backend, names[names.index(state.index) + 1]).created


@dataclass(frozen=True)
class IndexStats:
    """Creation time, primary document count and primary store size of an index."""

    created: datetime
    docs: int
    size_bytes: int


def _index_stats(backend: SearchBackend, index: str) -> IndexStats:
    settings = backend.request("GET", f"/{index}/_settings/index.creation_date")
    created_ms = int(settings[index]["settings"]["index"]["creation_date"])
    stats = backend.request("GET", f"/{index}/_stats/docs,store")
    primaries = stats["indices"][index]["primaries"]
    return IndexStats(
        created=datetime.fromtimestamp(created_ms / 1000, tz=UTC),
        docs=int(primaries["docs"]["count"]),
        size_bytes=int(primaries["store"]["size_in_bytes"]),
    )


def _load_state(backend: SearchBackend, namespace: str, index: str) -> IndexState | None:
    found = backend.get_document(fallback_index(namespace), f"index-{index}")
    if found is None:
        return None
    source = found["_source"]
    return IndexState(
        index=source["index"],
        data_stream=source["data_stream"],
        policy=source["policy"],
        state=source["state"],
        action_position=int(source["action_position"]),
        rolled_over_at=_parse_iso(source.get("rolled_over_at")),
        deleted_at=_parse_iso(source.get("deleted_at")),
        history=list(source.get("history", [])),
    )


def _save_state(backend: SearchBackend, namespace: str, state: IndexState) -> None:
    backend.index_document(
        fallback_index(namespace),
        state.to_document(),
        doc_id=f"index-{state.index}",
        op_type="index",
    )


def index_states(backend: SearchBackend, namespace: str) -> list[dict[str, Any]]:
    """Return the stored state of every managed index, like ISM's explain API."""
    query = {"size": 10000, "query": {"term": {"kind": "index_state"}}, "sort": ["index"]}
    try:
        response = backend.search(fallback_index(namespace), query)
    except QueryRejectedError as exc:
        if exc.status == 404:
            return []
        raise
    return [hit["_source"] for hit in response["hits"]["hits"]]


def _iso(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment else None


def _parse_iso(text: str | None) -> datetime | None:
    return parse_utc_iso(text) if text else None
