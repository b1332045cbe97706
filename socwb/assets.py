"""Load the JSON asset files and render their request bodies for one engine and namespace.

The assets are the component and index templates in `index_templates/`, the ingest
pipelines in `ingest_pipelines/` and the lifecycle policies in
`ilm_policies/opensearch/` (ISM) and `ilm_policies/elasticsearch/` (ILM). Each file
is the request body, and its name without `.json` is the resource name. Rendering
is pure: it only builds bodies, and provisioning sends them.

Rendering for a namespace gives every resource name the suffix `-<namespace>` and
narrows every `logs-<dataset>-*` pattern to `logs-<dataset>-<namespace>`, so two
namespaces never share a template, pipeline or policy on one cluster.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from socwb.catalogue import validate_namespace
from socwb.errors import ProvisioningError
from socwb.retention import Engine

logger = logging.getLogger(__name__)

JsonObject: TypeAlias = dict[str, Any]
AssetKind: TypeAlias = Literal[
    "component_template", "index_template", "ingest_pipeline", "lifecycle_policy"
]

ENGINES: tuple[Engine, ...] = ("opensearch", "elasticsearch")
PIPELINE_SETTING = "index.default_pipeline"
ILM_POLICY_SETTING = "index.lifecycle.name"
"""Elasticsearch only. ISM attaches policies through the policy's `ism_template`."""

_APPLY_ORDER: tuple[AssetKind, ...] = (
    "lifecycle_policy",
    "ingest_pipeline",
    "component_template",
    "index_template",
)


class AssetError(ProvisioningError):
    """An asset file is missing, is not valid JSON, or lacks a key that rendering needs."""


@dataclass(frozen=True)
class Asset:
    """One request body ready to send.

    Attributes:
        kind: API that the body is for.
        name: Resource name, including the namespace suffix.
        body: The request body. Callers must not modify it.
    """

    kind: AssetKind
    name: str
    body: JsonObject


@dataclass(frozen=True)
class AssetFiles:
    """The parsed asset files, each keyed by resource name without a namespace."""

    component_templates: dict[str, JsonObject]
    index_templates: dict[str, JsonObject]
    ingest_pipelines: dict[str, JsonObject]
    lifecycle_policies: dict[Engine, dict[str, JsonObject]]


def repository_root() -> Path:
    """Return the directory that contains the `socwb` package and the asset folders.

    NOTE: the asset folders are not part of the installed package, so this only
    finds them in a source checkout. Pass `root` explicitly elsewhere.
    """
    return Path(__file__).resolve().parent.parent


def load_json_object(path: Path) -> JsonObject:
    """Read a JSON file whose top level must be an object.

    Raises:
        AssetError: The file cannot be read, is not valid JSON, or is not an object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssetError(f"{path}: cannot read asset file ({exc.strerror})") from exc
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AssetError(
            f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}): fix the syntax there"
        ) from exc
    if not isinstance(parsed, dict):
        raise AssetError(
            f"{path}: the top level must be a JSON object, found {type(parsed).__name__}"
        )
    return parsed


def load_asset_files(root: Path | None = None) -> AssetFiles:
    """Load and check every asset file under a repository root.

    Args:
        root: Directory that contains `index_templates/`, `ingest_pipelines/` and
            `ilm_policies/`. Defaults to `repository_root()`.

    Raises:
        AssetError: A file is invalid, or a reference between assets is broken.
            The message names the file and the key.
    """
    base = root if root is not None else repository_root()
    components: dict[str, JsonObject] = {}
    templates: dict[str, JsonObject] = {}
    for name, body in _load_folder(base / "index_templates").items():
        target = templates if "index_patterns" in body else components
        target[name] = body
    files = AssetFiles(
        component_templates=components,
        index_templates=templates,
        ingest_pipelines=_load_folder(base / "ingest_pipelines"),
        lifecycle_policies={
            engine: _load_folder(base / "ilm_policies" / engine) for engine in ENGINES
        },
    )
    _check_files(base, files)
    logger.debug(
        "loaded assets root=%s component_templates=%d index_templates=%d",
        base,
        len(components),
        len(templates),
    )
    return files


def _load_folder(folder: Path) -> dict[str, JsonObject]:
    if not folder.is_dir():
        raise AssetError(f"{folder}: asset folder not found: check the repository root")
    return {path.stem: load_json_object(path) for path in sorted(folder.glob("*.json"))}


def render_assets(files: AssetFiles, engine: Engine, namespace: str) -> list[Asset]:
    """Build every request body for one engine and namespace.

    Returns:
        Lifecycle policies first, then ingest pipelines, component templates and index
        templates, which is the order they must be applied in: ISM attaches a policy
        only to indices created after it, and index templates reference the others.
        Within a kind, assets are sorted by name.

    Raises:
        AssetError: The engine or namespace is invalid.
    """
    if engine not in ENGINES:
        raise AssetError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    try:
        validate_namespace(namespace)
    except ValueError as exc:
        raise AssetError(str(exc)) from exc

    assets: list[Asset] = []
    for name, body in files.lifecycle_policies[engine].items():
        assets.append(
            Asset(
                "lifecycle_policy",
                resource_name(name, namespace),
                _render_policy(body, engine, namespace),
            )
        )
    for name, body in files.ingest_pipelines.items():
        assets.append(Asset("ingest_pipeline", resource_name(name, namespace), copy.deepcopy(body)))
    for name, body in files.component_templates.items():
        assets.append(
            Asset("component_template", resource_name(name, namespace), copy.deepcopy(body))
        )
    for name, body in files.index_templates.items():
        assets.append(
            Asset(
                "index_template",
                resource_name(name, namespace),
                _render_index_template(body, engine, namespace),
            )
        )
    return sorted(assets, key=lambda asset: (_APPLY_ORDER.index(asset.kind), asset.name))


def rendered_assets(engine: Engine, namespace: str, root: Path | None = None) -> list[Asset]:
    """Load the asset files and render them for one engine and namespace.

    Raises:
        AssetError: A file is invalid, or the engine or namespace is invalid.
    """
    return render_assets(load_asset_files(root), engine, namespace)


def resource_name(name: str, namespace: str) -> str:
    """Return the cluster-wide name of a resource in a namespace, `<name>-<namespace>`."""
    return f"{name}-{namespace}"


def namespaced_pattern(pattern: str, namespace: str) -> str:
    """Narrow a `logs-<dataset>-*` pattern to one namespace.

    Raises:
        AssetError: The pattern does not end with `-*`.
    """
    if not pattern.endswith("-*"):
        raise AssetError(f"index pattern {pattern!r} must end with '-*' (the namespace part)")
    return f"{pattern[:-1]}{namespace}"


def _render_index_template(body: JsonObject, engine: Engine, namespace: str) -> JsonObject:
    rendered = copy.deepcopy(body)
    rendered["index_patterns"] = [
        namespaced_pattern(pattern, namespace) for pattern in body["index_patterns"]
    ]
    rendered["composed_of"] = [resource_name(name, namespace) for name in body["composed_of"]]
    settings = rendered["template"]["settings"]
    settings[PIPELINE_SETTING] = resource_name(settings[PIPELINE_SETTING], namespace)
    meta = rendered["_meta"]
    meta["lifecycle_policy"] = resource_name(meta["lifecycle_policy"], namespace)
    if engine == "elasticsearch":
        settings[ILM_POLICY_SETTING] = meta["lifecycle_policy"]
    return rendered


def _render_policy(body: JsonObject, engine: Engine, namespace: str) -> JsonObject:
    rendered = copy.deepcopy(body)
    if engine == "opensearch":
        for ism_template in rendered["policy"]["ism_template"]:
            ism_template["index_patterns"] = [
                namespaced_pattern(pattern, namespace) for pattern in ism_template["index_patterns"]
            ]
    return rendered


# ------------------------------------------------------------------- checks


def _check_files(base: Path, files: AssetFiles) -> None:
    templates_dir = base / "index_templates"
    for name, body in files.component_templates.items():
        _check_component_template(templates_dir / f"{name}.json", body)
    for name, body in files.ingest_pipelines.items():
        _require_list(base / "ingest_pipelines" / f"{name}.json", body, "processors")
    for name, body in files.lifecycle_policies["opensearch"].items():
        _check_ism_policy(base / "ilm_policies" / "opensearch" / f"{name}.json", body)
    for name, body in files.lifecycle_policies["elasticsearch"].items():
        path = base / "ilm_policies" / "elasticsearch" / f"{name}.json"
        _require_object(path, _require_object(path, body, "policy"), "phases", "policy.phases")
    for name, body in files.index_templates.items():
        _check_index_template(templates_dir / f"{name}.json", body, files)


def _check_component_template(path: Path, body: JsonObject) -> None:
    template = _require_object(path, body, "template")
    if "settings" not in template and "mappings" not in template:
        raise AssetError(f"{path}: 'template' has neither 'settings' nor 'mappings': add one")


def _check_ism_policy(path: Path, body: JsonObject) -> None:
    policy = _require_object(path, body, "policy")
    _require_list(path, policy, "states", "policy.states")
    for position, ism_template in enumerate(
        _require_list(path, policy, "ism_template", "policy.ism_template")
    ):
        where = f"policy.ism_template[{position}].index_patterns"
        if not isinstance(ism_template, dict):
            raise AssetError(f"{path}: policy.ism_template[{position}] must be an object")
        for pattern in _require_list(path, ism_template, "index_patterns", where):
            _check_pattern(path, where, pattern)


def _check_index_template(path: Path, body: JsonObject, files: AssetFiles) -> None:
    for pattern in _require_list(path, body, "index_patterns"):
        _check_pattern(path, "index_patterns", pattern)
    _require_object(path, body, "data_stream")
    if not isinstance(body.get("priority"), int):
        raise AssetError(f"{path}: 'priority' is missing or not an integer: add one, such as 200")
    for component in _require_list(path, body, "composed_of"):
        if component not in files.component_templates:
            raise AssetError(f"{path}: composed_of names unknown component template {component!r}")
    settings = _require_object(
        path, _require_object(path, body, "template"), "settings", "template.settings"
    )
    if settings.get(PIPELINE_SETTING) not in files.ingest_pipelines:
        raise AssetError(
            f"{path}: template.settings.{PIPELINE_SETTING} must name a file in ingest_pipelines/, "
            f"found {settings.get(PIPELINE_SETTING)!r}"
        )
    if ILM_POLICY_SETTING in settings:
        raise AssetError(
            f"{path}: remove {ILM_POLICY_SETTING}: rendering adds it for Elasticsearch only"
        )
    _check_template_meta(path, _require_object(path, body, "_meta"), files)


def _check_template_meta(path: Path, meta: Mapping[str, Any], files: AssetFiles) -> None:
    if not isinstance(meta.get("retention_days"), int):
        raise AssetError(f"{path}: _meta.retention_days is missing or not an integer")
    policy = meta.get("lifecycle_policy")
    for engine in ENGINES:
        if policy not in files.lifecycle_policies[engine]:
            raise AssetError(
                f"{path}: _meta.lifecycle_policy {policy!r} has no file in ilm_policies/{engine}/"
            )


def _check_pattern(path: Path, where: str, pattern: object) -> None:
    if (
        not isinstance(pattern, str)
        or not pattern.startswith("logs-")
        or not pattern.endswith("-*")
    ):
        raise AssetError(
            f"{path}: {where} has {pattern!r}: use the form 'logs-<dataset>-*' so that "
            "rendering can set the namespace"
        )


def _require_object(
    path: Path, parent: Mapping[str, Any], key: str, where: str | None = None
) -> JsonObject:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise AssetError(f"{path}: '{where or key}' is missing or not an object: add it")
    return value


def _require_list(
    path: Path, parent: Mapping[str, Any], key: str, where: str | None = None
) -> list[Any]:
    value = parent.get(key)
    if not isinstance(value, list) or not value:
        raise AssetError(f"{path}: '{where or key}' is missing or not a non-empty list: add it")
    return value
