"""The role files under roles/: they parse, match across engines and grant no more than intended."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLES = REPO_ROOT / "roles"
ENGINES = ("opensearch", "elasticsearch")
EXPECTED_ROLES = {
    "socwb_ingest",
    "socwb_analyst",
    "socwb_workbench",
    "socwb_admin",
    "socwb_lifecycle",
}

# Elasticsearch index privileges that only read.
ES_READ_ONLY = {"read", "view_index_metadata", "monitor", "read_cross_cluster"}
# OpenSearch action groups that write, update or delete documents or indices.
OS_WRITING_GROUPS = {
    "*",
    "write",
    "index",
    "crud",
    "delete",
    "manage",
    "create_index",
    "data_access",
    "indices_all",
    "unlimited",
}
LOG_INDEX_SAMPLES = ("logs-app.app_json-default", ".ds-logs-app.app_json-default-000001")


def _load(engine: str, role: str) -> dict:
    return json.loads((ROLES / engine / f"{role}.json").read_text(encoding="utf-8"))


def _covers_logs(patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(sample, pattern) for sample in LOG_INDEX_SAMPLES for pattern in patterns
    )


def _es_log_privileges(role: dict) -> set[str]:
    granted: set[str] = set()
    for entry in role.get("indices", []):
        if _covers_logs(entry["names"]):
            granted.update(entry["privileges"])
    return granted


def _os_log_actions(role: dict) -> set[str]:
    granted: set[str] = set()
    for entry in role.get("index_permissions", []):
        if _covers_logs(entry["index_patterns"]):
            granted.update(entry["allowed_actions"])
    return granted


def _os_action_writes(action: str) -> bool:
    if action in OS_WRITING_GROUPS:
        return True
    if action.startswith("indices:data/write"):
        return True
    return action.startswith("indices:admin/") and not action.endswith("/get")


@pytest.mark.parametrize("engine", ENGINES)
def test_every_role_file_parses(engine: str) -> None:
    files = sorted((ROLES / engine).glob("*.json"))

    assert files
    for file in files:
        body = json.loads(file.read_text(encoding="utf-8"))
        assert isinstance(body, dict), file


@pytest.mark.parametrize("engine", ENGINES)
def test_every_role_exists_per_engine(engine: str) -> None:
    names = {file.stem for file in (ROLES / engine).glob("*.json")}

    assert names == EXPECTED_ROLES


@pytest.mark.parametrize("role", sorted(EXPECTED_ROLES))
def test_opensearch_role_uses_known_keys(role: str) -> None:
    body = _load("opensearch", role)

    assert set(body) <= {"description", "cluster_permissions", "index_permissions"}
    for entry in body.get("index_permissions", []):
        assert entry["index_patterns"]
        assert entry["allowed_actions"]


@pytest.mark.parametrize("role", sorted(EXPECTED_ROLES))
def test_elasticsearch_role_uses_known_keys(role: str) -> None:
    body = _load("elasticsearch", role)

    assert set(body) <= {"cluster", "indices", "metadata"}
    for entry in body.get("indices", []):
        assert entry["names"]
        assert entry["privileges"]


def test_elasticsearch_ingest_only_creates() -> None:
    role = _load("elasticsearch", "socwb_ingest")

    privileges = {p for entry in role["indices"] for p in entry["privileges"]}

    assert privileges == {"create_doc", "auto_configure"}
    assert all(entry["names"] == ["logs-*"] for entry in role["indices"])


def test_opensearch_ingest_grants_no_update_or_delete() -> None:
    role = _load("opensearch", "socwb_ingest")

    actions = {a for entry in role["index_permissions"] for a in entry["allowed_actions"]}
    actions |= set(role["cluster_permissions"])

    assert not actions & OS_WRITING_GROUPS
    assert not [action for action in actions if "update" in action or "delete" in action]
    assert all(entry["index_patterns"] == ["logs-*"] for entry in role["index_permissions"])


def test_elasticsearch_ingest_has_no_index_privilege() -> None:
    role = _load("elasticsearch", "socwb_ingest")

    privileges = {p for entry in role["indices"] for p in entry["privileges"]}

    assert not privileges & {"index", "write", "delete", "all", "manage"}


def test_analyst_cannot_write_logs_on_elasticsearch() -> None:
    granted = _es_log_privileges(_load("elasticsearch", "socwb_analyst"))

    assert granted
    assert granted <= ES_READ_ONLY


def test_analyst_cannot_write_logs_on_opensearch() -> None:
    granted = _os_log_actions(_load("opensearch", "socwb_analyst"))

    assert granted
    assert [action for action in granted if _os_action_writes(action)] == []


@pytest.mark.parametrize("engine", ENGINES)
def test_analyst_writes_only_alert_status(engine: str) -> None:
    role = _load(engine, "socwb_analyst")
    entries = role.get("indices") or role["index_permissions"]

    writable = []
    for entry in entries:
        patterns = entry.get("names") or entry["index_patterns"]
        actions = entry.get("privileges") or entry["allowed_actions"]
        if (
            set(actions)
            - ES_READ_ONLY
            - {"indices:admin/mappings/get"}
            - {"indices:admin/data_stream/get"}
        ):
            writable.extend(patterns)

    assert writable == ["socwb-alert-status-*"]


def test_admin_cannot_delete_logs_on_elasticsearch() -> None:
    granted = _es_log_privileges(_load("elasticsearch", "socwb_admin"))

    assert not granted & {"delete_index", "manage", "all", "delete", "write"}


def test_admin_cannot_delete_logs_on_opensearch() -> None:
    granted = _os_log_actions(_load("opensearch", "socwb_admin"))

    assert not granted & OS_WRITING_GROUPS
    assert [action for action in granted if "delete" in action] == []


@pytest.mark.parametrize("engine", ENGINES)
def test_workbench_appends_to_ledger_only(engine: str) -> None:
    role = _load(engine, "socwb_workbench")
    entries = role.get("indices") or role["index_permissions"]

    ledger = [
        entry
        for entry in entries
        if "socwb-integrity-ledger-*" in (entry.get("names") or entry["index_patterns"])
    ]
    actions = set(ledger[0].get("privileges") or ledger[0]["allowed_actions"])

    assert len(ledger) == 1
    assert not actions & {"write", "index", "crud", "delete", "manage", "all"}
    assert [action for action in actions if "update" in action or "delete" in action] == []
