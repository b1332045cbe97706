"""Tests for the JSON asset files and their rendering per engine and namespace."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socwb.assets import (
    ENGINES,
    Asset,
    AssetError,
    AssetFiles,
    load_asset_files,
    namespaced_pattern,
    render_assets,
    rendered_assets,
    repository_root,
)
from socwb.catalogue import load_catalogue
from socwb.retention import Engine

ROOT = repository_root()
ASSET_FOLDERS = (
    "index_templates",
    "ingest_pipelines",
    "ilm_policies/opensearch",
    "ilm_policies/elasticsearch",
)
ASSET_FILES = sorted(path for folder in ASSET_FOLDERS for path in (ROOT / folder).glob("*.json"))
CATALOGUE = load_catalogue()


@pytest.fixture(scope="module")
def files() -> AssetFiles:
    return load_asset_files()


def _by_name(assets: list[Asset]) -> dict[str, Asset]:
    return {asset.name: asset for asset in assets}


def _differing_paths(before: Any, after: Any, path: str = "") -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before.keys() | after.keys():
            yield from _differing_paths(before.get(key), after.get(key), f"{path}/{key}")
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for position, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from _differing_paths(old, new, f"{path}/{position}")
    elif before != after:
        yield path


def _mapping_properties(files: AssetFiles) -> dict[str, Any]:
    properties: dict[str, Any] = files.component_templates["socwb-ecs-base"]["template"][
        "mappings"
    ]["properties"]
    return properties


def _field(properties: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: dict[str, Any] = {"properties": properties}
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def _leaf_fields(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, spec in properties.items():
        if "properties" in spec:
            yield from _leaf_fields(spec["properties"], f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", spec


@pytest.mark.parametrize("path", ASSET_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_asset_file_is_canonical_json(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parsed = json.loads(text)

    assert isinstance(parsed, dict)
    assert text == json.dumps(parsed, indent=2) + "\n"


def test_asset_folders_hold_expected_files(files: AssetFiles) -> None:
    assert set(files.component_templates) == {"socwb-ecs-base", "socwb-settings", "socwb-dynamic"}
    assert set(files.ingest_pipelines) == {"socwb-ingest"}
    assert set(files.lifecycle_policies["opensearch"]) == set(
        files.lifecycle_policies["elasticsearch"]
    )


@pytest.mark.parametrize("key", CATALOGUE.keys)
def test_source_template_agrees_with_catalogue(files: AssetFiles, key: str) -> None:
    source = CATALOGUE.source(key)
    template = files.index_templates[f"socwb-logs-{key}"]

    assert template["index_patterns"] == [source.data_stream_pattern()]
    assert template["data_stream"] == {}
    assert template["_meta"]["source"] == key
    assert template["_meta"]["retention_days"] == source.retention_days
    assert template["_meta"]["lifecycle_policy"] == f"socwb-retention-{key}"
    assert template["template"]["settings"]["index.default_pipeline"] == "socwb-ingest"


@pytest.mark.parametrize("key", CATALOGUE.keys)
def test_source_ism_policy_targets_its_data_streams(files: AssetFiles, key: str) -> None:
    policy = files.lifecycle_policies["opensearch"][f"socwb-retention-{key}"]["policy"]

    assert policy["ism_template"] == [
        {"index_patterns": [CATALOGUE.source(key).data_stream_pattern()], "priority": 100}
    ]


@pytest.mark.parametrize("key", CATALOGUE.keys)
def test_source_ilm_policy_meta_agrees_with_catalogue(files: AssetFiles, key: str) -> None:
    meta = files.lifecycle_policies["elasticsearch"][f"socwb-retention-{key}"]["policy"]["_meta"]

    assert meta["source"] == key
    assert meta["retention_days"] == CATALOGUE.source(key).retention_days


def test_index_templates_cover_catalogue_exactly(files: AssetFiles) -> None:
    expected = {f"socwb-logs-{key}" for key in CATALOGUE.keys} | {"socwb-logs-deadletter"}

    assert set(files.index_templates) == expected


def test_deadletter_template_matches_catalogue(files: AssetFiles) -> None:
    template = files.index_templates["socwb-logs-deadletter"]
    properties = template["template"]["mappings"]["properties"]
    deadletter = properties["socwb"]["properties"]["deadletter"]["properties"]

    assert template["index_patterns"] == [f"logs-{CATALOGUE.deadletter.dataset}-*"]
    assert template["_meta"]["retention_days"] == CATALOGUE.deadletter.retention_days
    assert template["template"]["mappings"]["dynamic"] is False
    assert properties["event"]["properties"]["original"] == {
        "type": "keyword",
        "index": False,
        "doc_values": False,
    }
    assert deadletter["line_number"] == {"type": "long"}
    assert set(deadletter) == {"source", "format", "file", "line_number", "stage"}


@pytest.mark.parametrize(
    ("field", "expected_type"),
    [
        ("@timestamp", "date"),
        ("event.ingested", "date"),
        ("event.created", "date"),
        ("event.severity", "long"),
        ("event.category", "keyword"),
        ("user.target.group.name", "keyword"),
        ("source.ip", "ip"),
        ("source.port", "long"),
        ("source.geo.location", "geo_point"),
        ("destination.bytes", "long"),
        ("host.ip", "ip"),
        ("related.ip", "ip"),
        ("network.bytes", "long"),
        ("process.pid", "long"),
        ("process.parent.pid", "long"),
        ("http.response.status_code", "long"),
        ("vulnerability.score.base", "float"),
        ("threat.technique.id", "keyword"),
        ("socwb.data.rows", "long"),
        ("socwb.iam.is_escalation", "boolean"),
        ("socwb.network.is_open_to_world", "boolean"),
        ("socwb.canary", "boolean"),
    ],
)
def test_ecs_base_maps_field_type(files: AssetFiles, field: str, expected_type: str) -> None:
    assert _field(_mapping_properties(files), field)["type"] == expected_type


def test_event_original_is_neither_indexed_nor_aggregatable(files: AssetFiles) -> None:
    original = _field(_mapping_properties(files), "event.original")

    assert original == {"type": "keyword", "index": False, "doc_values": False}


def test_every_indexed_keyword_has_ignore_above(files: AssetFiles) -> None:
    for name, spec in _leaf_fields(_mapping_properties(files)):
        if spec.get("type") == "keyword" and spec.get("index", True):
            assert 0 < spec.get("ignore_above", 0) <= 8191, name


def test_timestamp_opts_out_of_ignore_malformed(files: AssetFiles) -> None:
    settings = files.component_templates["socwb-settings"]["template"]["settings"]

    assert settings["index.mapping.ignore_malformed"] is True
    assert _field(_mapping_properties(files), "@timestamp")["ignore_malformed"] is False


def test_settings_bound_mapping_and_expand_replicas(files: AssetFiles) -> None:
    settings = files.component_templates["socwb-settings"]["template"]["settings"]

    assert settings["index.mapping.total_fields.limit"] == 2000
    assert settings["index.mapping.depth.limit"] == 20
    assert settings["index.auto_expand_replicas"] == "0-1"
    assert "index.number_of_replicas" not in settings


def test_dynamic_strings_become_bounded_keywords(files: AssetFiles) -> None:
    mappings = files.component_templates["socwb-dynamic"]["template"]["mappings"]
    templates = [next(iter(entry.values())) for entry in mappings["dynamic_templates"]]

    assert mappings["date_detection"] is False
    assert templates[-1] == {
        "match_mapping_type": "string",
        "mapping": {"type": "keyword", "ignore_above": 1024},
    }


def test_pipeline_always_sets_event_ingested(files: AssetFiles) -> None:
    processors = files.ingest_pipelines["socwb-ingest"]["processors"]

    assert processors[0]["set"]["field"] == "event.ingested"
    assert processors[0]["set"]["value"] == "{{{_ingest.timestamp}}}"
    assert processors[0]["set"]["override"] is True


@pytest.mark.parametrize("engine", ENGINES)
def test_rendered_assets_are_ordered_for_apply(engine: Engine) -> None:
    kinds = [asset.kind for asset in rendered_assets(engine, "t1")]

    assert kinds == sorted(
        kinds,
        key=["lifecycle_policy", "ingest_pipeline", "component_template", "index_template"].index,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_rendered_names_and_references_use_namespace(engine: Engine) -> None:
    assets = rendered_assets(engine, "t1")
    names: dict[str, set[str]] = {}
    for asset in assets:
        names.setdefault(asset.kind, set()).add(asset.name)

    for asset in assets:
        assert asset.name.endswith("-t1"), asset.name
    for asset in assets:
        if asset.kind != "index_template":
            continue
        settings = asset.body["template"]["settings"]
        assert set(asset.body["composed_of"]) <= names["component_template"], asset.name
        assert settings["index.default_pipeline"] in names["ingest_pipeline"], asset.name
        assert asset.body["_meta"]["lifecycle_policy"] in names["lifecycle_policy"], asset.name
        assert all(pattern.endswith("-t1") for pattern in asset.body["index_patterns"])


def test_elasticsearch_templates_name_their_ilm_policy() -> None:
    template = _by_name(rendered_assets("elasticsearch", "t1"))["socwb-logs-edr-t1"]

    assert template.body["template"]["settings"]["index.lifecycle.name"] == "socwb-retention-edr-t1"


def test_opensearch_templates_leave_attachment_to_ism() -> None:
    template = _by_name(rendered_assets("opensearch", "t1"))["socwb-logs-edr-t1"]
    policy = _by_name(rendered_assets("opensearch", "t1"))["socwb-retention-edr-t1"]

    assert "index.lifecycle.name" not in template.body["template"]["settings"]
    assert policy.body["policy"]["ism_template"][0]["index_patterns"] == ["logs-edr.*-t1"]


@pytest.mark.parametrize("engine", ENGINES)
def test_namespace_changes_only_names_and_patterns(files: AssetFiles, engine: Engine) -> None:
    allowed = {
        "/index_patterns/0",
        "/composed_of/0",
        "/composed_of/1",
        "/composed_of/2",
        "/template/settings/index.default_pipeline",
        "/_meta/lifecycle_policy",
        "/policy/ism_template/0/index_patterns/0",
    }
    if engine == "elasticsearch":
        allowed.add("/template/settings/index.lifecycle.name")
    originals = {
        **files.component_templates,
        **files.index_templates,
        **files.ingest_pipelines,
        **files.lifecycle_policies[engine],
    }

    for asset in rendered_assets(engine, "t1"):
        original = originals[asset.name.removesuffix("-t1")]
        changed = set(_differing_paths(original, asset.body))
        assert changed <= allowed, f"{asset.name}: {sorted(changed - allowed)}"


def test_two_namespaces_share_no_name_or_pattern() -> None:
    first = rendered_assets("opensearch", "alpha")
    second = rendered_assets("opensearch", "beta")

    def patterns(assets: list[Asset]) -> set[str]:
        found: set[str] = set()
        for asset in assets:
            found.update(asset.body.get("index_patterns", []))
            for ism_template in asset.body.get("policy", {}).get("ism_template", []):
                found.update(ism_template["index_patterns"])
        return found

    assert not {a.name for a in first} & {a.name for a in second}
    assert not patterns(first) & patterns(second)


def test_rendering_leaves_loaded_files_unchanged(files: AssetFiles) -> None:
    before = json.dumps(files.index_templates, sort_keys=True)

    render_assets(files, "elasticsearch", "t1")

    assert json.dumps(files.index_templates, sort_keys=True) == before


@pytest.mark.parametrize("namespace", ["", "T1", "a-b", "a*"])
def test_render_rejects_invalid_namespace(files: AssetFiles, namespace: str) -> None:
    with pytest.raises(AssetError, match="invalid data stream namespace"):
        render_assets(files, "opensearch", namespace)


def test_render_rejects_unknown_engine(files: AssetFiles) -> None:
    with pytest.raises(AssetError, match="unknown engine 'solr'"):
        render_assets(files, "solr", "t1")  # type: ignore[arg-type]


def test_namespaced_pattern_requires_namespace_wildcard() -> None:
    assert namespaced_pattern("logs-waf.*-*", "t1") == "logs-waf.*-t1"
    with pytest.raises(AssetError, match="must end with"):
        namespaced_pattern("logs-waf.*", "t1")


@pytest.fixture
def asset_copy(tmp_path: Path) -> Path:
    for folder in ("index_templates", "ingest_pipelines", "ilm_policies"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_load_from_explicit_root(asset_copy: Path) -> None:
    files = load_asset_files(asset_copy)

    assert "socwb-logs-cloud" in files.index_templates


def test_load_names_file_with_invalid_json(asset_copy: Path) -> None:
    path = asset_copy / "ingest_pipelines" / "socwb-ingest.json"
    path.write_text('{"processors": [}\n', encoding="utf-8")

    with pytest.raises(AssetError, match=r"socwb-ingest\.json:1:\d+: invalid JSON"):
        load_asset_files(asset_copy)


def test_load_rejects_unknown_component_reference(asset_copy: Path) -> None:
    path = asset_copy / "index_templates" / "socwb-logs-waf.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    body["composed_of"].append("socwb-missing")
    path.write_text(json.dumps(body), encoding="utf-8")

    with pytest.raises(AssetError, match="socwb-logs-waf.json: composed_of names unknown"):
        load_asset_files(asset_copy)


def test_load_rejects_template_without_policy_file(asset_copy: Path) -> None:
    (asset_copy / "ilm_policies" / "elasticsearch" / "socwb-retention-waf.json").unlink()

    with pytest.raises(AssetError, match=r"has no file in ilm_policies/elasticsearch/"):
        load_asset_files(asset_copy)


def test_load_rejects_ism_policy_without_template(asset_copy: Path) -> None:
    path = asset_copy / "ilm_policies" / "opensearch" / "socwb-retention-edr.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    del body["policy"]["ism_template"]
    path.write_text(json.dumps(body), encoding="utf-8")

    with pytest.raises(AssetError, match="'policy.ism_template' is missing"):
        load_asset_files(asset_copy)


def test_load_rejects_pattern_without_namespace_wildcard(asset_copy: Path) -> None:
    path = asset_copy / "index_templates" / "socwb-logs-app.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    body["index_patterns"] = ["logs-app.*-default"]
    path.write_text(json.dumps(body), encoding="utf-8")

    with pytest.raises(AssetError, match="use the form 'logs-<dataset>-\\*'"):
        load_asset_files(asset_copy)
