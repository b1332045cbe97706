"""Apply index templates, ingest pipelines and retention policies idempotently.

Each asset is compared with what the cluster stores: absent ones are created,
different ones updated (a hand edit in the cluster shows as drift), equal ones
left alone. A dry run only reports. Provisioning never deletes an index.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from socwb.assets import Asset, AssetKind, rendered_assets
from socwb.lifecycle_fallback import FALLBACK_NOTE, store_fallback_policy, stored_fallback_policy
from socwb.search import QueryBody, SearchBackend
from socwb.search.opensearch import OpenSearchBackend

logger = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged"]

# Keys the engine adds to a stored resource; they never count as drift.
_SERVER_KEYS = {"policy_id", "last_updated_time", "schema_version", "error_notification"}

# Data stream options the engines fill in with these defaults (OpenSearch adds
# the timestamp field, Elasticsearch the two flags); equal values are not drift.
_DATA_STREAM_DEFAULTS: dict[str, Any] = {
    "timestamp_field": {"name": "@timestamp"},
    "hidden": False,
    "allow_custom_routing": False,
}


@dataclass(frozen=True)
class Change:
    """The difference between one asset in the repository and in the cluster."""

    kind: AssetKind
    name: str
    action: Action
    differences: tuple[str, ...] = ()
    note: str = ""


@dataclass
class ApplyReport:
    """Outcome of one ``apply`` or dry run."""

    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    attached: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, action: Action) -> int:
        """Number of assets with the given action."""
        return sum(1 for change in self.changes if change.action == action)

    @property
    def has_drift(self) -> bool:
        """True when any asset in the cluster differs from the repository."""
        return any(change.action == "update" for change in self.changes)


def apply_assets(
    backend: SearchBackend,
    namespace: str,
    *,
    dry_run: bool = False,
    root: Path | None = None,
    actor: str = "unknown",
) -> ApplyReport:
    """Install every asset for ``namespace`` and attach policies to existing indices.

    Args:
        backend: the engine to provision.
        namespace: suffix of every resource and data stream name.
        dry_run: report the differences without changing anything.
        root: repository root holding the asset folders; the source checkout by default.
        actor: who runs it, written to the start and finish log lines: the workbench
            user, or the operating-system user of the ``socwb apply`` command.

    Raises:
        ProvisioningError: an asset file is invalid.
        QueryRejectedError: the engine rejected a body.
    """
    engine = backend.info.distribution
    assets = rendered_assets(engine, namespace, root)
    report = ApplyReport(dry_run=dry_run)
    logger.info("apply started namespace=%s actor=%s dry_run=%s", namespace, actor, dry_run)
    uses_fallback = uses_lifecycle_fallback(backend)
    if uses_fallback:
        report.notes.append(FALLBACK_NOTE)

    for asset in assets:
        stored = _stored_body(backend, asset, uses_fallback)
        change = compare(asset, stored)
        report.changes.append(change)
        if change.action != "unchanged" and not dry_run:
            _put(backend, asset, uses_fallback)
        logger.info(
            "asset kind=%s name=%s action=%s dry_run=%s differences=%d",
            asset.kind,
            asset.name,
            change.action,
            dry_run,
            len(change.differences),
        )

    report.attached = attach_policies(backend, assets, dry_run=dry_run, fallback=uses_fallback)
    logger.info(
        "apply finished namespace=%s actor=%s dry_run=%s created=%d updated=%d unchanged=%d",
        namespace,
        actor,
        dry_run,
        report.count("create"),
        report.count("update"),
        report.count("unchanged"),
    )
    return report


def compare(asset: Asset, stored: QueryBody | None) -> Change:
    """Compare a rendered asset with the body the cluster stores (None when absent)."""
    if stored is None:
        return Change(asset.kind, asset.name, "create")
    expected = canonical(asset.kind, asset.body)
    actual = canonical(asset.kind, stored)
    differences = tuple(_differences(expected, actual, ""))
    return Change(asset.kind, asset.name, "update" if differences else "unchanged", differences)


def canonical(kind: AssetKind, body: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a body so that a stored copy compares equal to what was sent.

    The engines return index settings nested and as strings, and add
    bookkeeping keys to lifecycle policies; both are folded away here.
    """
    result = copy.deepcopy(dict(body))
    if kind in ("component_template", "index_template"):
        template = result.get("template")
        if isinstance(template, dict) and "settings" in template:
            template["settings"] = flatten_settings(template["settings"])
    if kind == "index_template" and isinstance(result.get("data_stream"), dict):
        result["data_stream"] = {
            key: value
            for key, value in result["data_stream"].items()
            if _DATA_STREAM_DEFAULTS.get(key) != value
        }
    if kind == "lifecycle_policy":
        result = _strip_server_keys(result)
    return result


def flatten_settings(settings: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten index settings to dotted keys with an ``index.`` prefix and string values."""
    flat: dict[str, str] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_settings(value, name + "."))
            continue
        if not name.startswith("index."):
            name = "index." + name
        flat[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return flat


def _strip_server_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _strip_server_keys(item) for key, item in value.items() if key not in _SERVER_KEYS
        }
    if isinstance(value, list):
        return [_strip_server_keys(item) for item in value]
    return value


def _differences(expected: Any, actual: Any, path: str) -> Iterator[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            child = f"{path}.{key}" if path else str(key)
            if key not in actual:
                yield f"{child}: missing in cluster"
            elif key not in expected:
                yield f"{child}: only in cluster"
            else:
                yield from _differences(expected[key], actual[key], child)
        return
    if expected != actual:
        yield f"{path or '(body)'}: repository {_short(expected)} != cluster {_short(actual)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def uses_lifecycle_fallback(backend: SearchBackend) -> bool:
    """Return whether the engine is OpenSearch without ISM, so socwb runs the retention."""
    return isinstance(backend, OpenSearchBackend) and not backend.has_ism()


def _stored_body(backend: SearchBackend, asset: Asset, fallback: bool) -> QueryBody | None:
    if asset.kind == "component_template":
        found = backend.get_json(f"/_component_template/{asset.name}")
        return found["component_templates"][0]["component_template"] if found else None
    if asset.kind == "index_template":
        found = backend.get_json(f"/_index_template/{asset.name}")
        return found["index_templates"][0]["index_template"] if found else None
    if asset.kind == "ingest_pipeline":
        found = backend.get_json(f"/_ingest/pipeline/{asset.name}")
        return found[asset.name] if found else None
    if fallback:
        return stored_fallback_policy(backend, asset.name)
    return backend.get_lifecycle_policy(asset.name)


def _put(backend: SearchBackend, asset: Asset, fallback: bool) -> None:
    if asset.kind == "component_template":
        backend.put_component_template(asset.name, asset.body)
    elif asset.kind == "index_template":
        backend.put_index_template(asset.name, asset.body)
    elif asset.kind == "ingest_pipeline":
        backend.put_ingest_pipeline(asset.name, asset.body)
    elif fallback:
        store_fallback_policy(backend, asset.name, asset.body)
    else:
        backend.put_lifecycle_policy(asset.name, asset.body)


def attach_policies(
    backend: SearchBackend, assets: list[Asset], *, dry_run: bool, fallback: bool
) -> list[tuple[str, str]]:
    """Attach each policy to existing backing indices that match it but are unmanaged.

    ISM's ``ism_template`` and ILM's template setting only reach indices created
    after the policy, so indices that existed before ``apply`` are attached here.

    Returns:
        (index, policy) pairs attached, or that would be attached in a dry run.
    """
    if fallback:
        # The fallback enforcer finds indices by pattern on every run.
        return []
    attached = []
    for policy, patterns in policy_patterns(assets).items():
        for index in _matching_backing_indices(backend, patterns):
            if _is_managed(backend, index):
                continue
            if not dry_run:
                _attach(backend, index, policy)
            logger.info("policy attached index=%s policy=%s dry_run=%s", index, policy, dry_run)
            attached.append((index, policy))
    return attached


def policy_patterns(assets: list[Asset]) -> dict[str, list[str]]:
    """Map each lifecycle policy to the data stream patterns of the templates naming it."""
    patterns: dict[str, list[str]] = {}
    for asset in assets:
        if asset.kind != "index_template":
            continue
        policy = asset.body.get("_meta", {}).get("lifecycle_policy")
        if policy:
            patterns.setdefault(str(policy), []).extend(asset.body["index_patterns"])
    return patterns


def _matching_backing_indices(backend: SearchBackend, patterns: list[str]) -> list[str]:
    streams = backend.get_json("/_data_stream/" + ",".join(patterns)) or {}
    indices: list[str] = []
    for stream in streams.get("data_streams", []):
        if any(fnmatch.fnmatch(stream["name"], pattern) for pattern in patterns):
            indices.extend(index["index_name"] for index in stream.get("indices", []))
    return indices


def _is_managed(backend: SearchBackend, index: str) -> bool:
    if backend.info.lifecycle_api == "ism":
        explained = backend.get_json(f"/_plugins/_ism/explain/{index}") or {}
        state = explained.get(index, {})
        return bool(
            state.get("index.plugins.index_state_management.policy_id") or state.get("policy_id")
        )
    explained = backend.get_json(f"/{index}/_ilm/explain") or {}
    return bool(explained.get("indices", {}).get(index, {}).get("managed"))


def _attach(backend: SearchBackend, index: str, policy: str) -> None:
    if backend.info.lifecycle_api == "ism":
        backend.request("POST", f"/_plugins/_ism/add/{index}", body={"policy_id": policy})
        return
    backend.request("PUT", f"/{index}/_settings", body={"index.lifecycle.name": policy})
