"""Tests for the source catalogue: its content, lookups, log type matching and load errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from socwb.catalogue import (
    Catalogue,
    CatalogueError,
    EventMatch,
    field_values,
    load_catalogue,
)

POLICY_RETENTION_DAYS = {
    "cloud": 365,
    "app": 365,
    "waf": 183,
    "database": 365,
    "idp": 365,
    "network": 183,
    "edr": 90,
    "cicd": 365,
    "vulnscan": 365,
    "metrics": 365,
}

POLICY_FORMATS = {
    "cloud": ["aws_cloudtrail", "azure_activity"],
    "app": [
        "app_json",
        "auth0",
        "box",
        "databricks",
        "drupal_watchdog",
        "onepassword",
        "salesforce",
        "slack_audit",
        "teleport",
        "vaultwarden",
        "zoom",
    ],
    "waf": ["aws_waf", "modsecurity", "nginx_error", "apache_access"],
    "database": ["postgresql", "mysql_error", "mongodb", "mongodb_atlas", "snowflake"],
    "idp": ["okta", "azure_ad", "duo", "google_workspace", "onelogin"],
    "network": ["openssh", "openvpn", "cisco_asa"],
    "edr": ["crowdstrike_fdr", "crowdstrike_streams", "sentinelone", "windows_sysmon", "osquery"],
    "cicd": ["github_audit", "github_webhook"],
    "vulnscan": ["trivy", "nessus", "openvas"],
    "metrics": ["host_metrics", "service_metrics"],
}

POLICY_LOG_TYPE_COUNTS = {
    "cloud": 3,
    "app": 3,
    "waf": 2,
    "database": 3,
    "idp": 3,
    "network": 3,
    "edr": 3,
    "cicd": 3,
    "vulnscan": 1,
    "metrics": 1,
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _raw_catalogue() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "socwb" / "sources.json"
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return raw


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def test_catalogue_lists_policy_sources_in_order(catalogue: Catalogue) -> None:
    assert catalogue.keys == list(POLICY_RETENTION_DAYS)


@pytest.mark.parametrize(("key", "days"), POLICY_RETENTION_DAYS.items())
def test_source_retention_matches_policy(catalogue: Catalogue, key: str, days: int) -> None:
    source = catalogue.source(key)

    assert source.retention_days == days
    assert source.retention == timedelta(days=days)


@pytest.mark.parametrize(("key", "formats"), POLICY_FORMATS.items())
def test_source_formats_match_policy(catalogue: Catalogue, key: str, formats: list[str]) -> None:
    assert catalogue.source(key).formats == formats


@pytest.mark.parametrize(("key", "count"), POLICY_LOG_TYPE_COUNTS.items())
def test_source_log_type_count(catalogue: Catalogue, key: str, count: int) -> None:
    assert len(catalogue.source(key).log_types) == count


def test_every_source_serves_cc7_1(catalogue: Catalogue) -> None:
    for source in catalogue.sources:
        assert "CC7.1" in source.criteria, source.key


def test_deadletter_retention_covers_longest_source(catalogue: Catalogue) -> None:
    assert catalogue.deadletter.retention_days >= max(POLICY_RETENTION_DAYS.values())
    assert catalogue.deadletter.data_stream("t1") == "logs-socwb.deadletter-t1"


def test_data_streams_follow_naming_scheme(catalogue: Catalogue) -> None:
    source = catalogue.source("cloud")

    assert source.datasets == ["cloud.aws_cloudtrail", "cloud.azure_activity"]
    assert source.data_streams() == [
        "logs-cloud.aws_cloudtrail-default",
        "logs-cloud.azure_activity-default",
    ]
    assert source.data_streams("t1")[0] == "logs-cloud.aws_cloudtrail-t1"


def test_data_stream_pattern_per_namespace(catalogue: Catalogue) -> None:
    source = catalogue.source("waf")

    assert source.data_stream_pattern() == "logs-waf.*-*"
    assert source.data_stream_pattern("prod") == "logs-waf.*-prod"
    assert catalogue.data_stream_patterns("t1")["edr"] == "logs-edr.*-t1"


@pytest.mark.parametrize("namespace", ["", "Prod", "a-b", "a b", "x" * 101])
def test_data_streams_reject_invalid_namespace(catalogue: Catalogue, namespace: str) -> None:
    with pytest.raises(ValueError, match="invalid data stream namespace"):
        catalogue.source("app").data_streams(namespace)


def test_source_lookup_unknown_key_lists_known(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError, match="use one of cloud, app"):
        catalogue.source("mainframe")


def test_source_for_dataset(catalogue: Catalogue) -> None:
    assert catalogue.source_for_dataset("idp.okta").key == "idp"
    with pytest.raises(KeyError, match="idp.unknown"):
        catalogue.source_for_dataset("idp.unknown")


def test_max_silence_default_and_host_override(tmp_path: Path) -> None:
    raw = _raw_catalogue()
    raw["sources"][0]["host_max_silence_seconds"] = {"bastion-01": 600}
    source = load_catalogue(_write(tmp_path, raw)).source("cloud")

    assert source.max_silence() == timedelta(hours=1)
    assert source.max_silence("web-07") == timedelta(hours=1)
    assert source.max_silence("bastion-01") == timedelta(minutes=10)


def test_login_type_needs_success_and_failure(catalogue: Catalogue) -> None:
    login = catalogue.source("idp").log_types[0]
    success = {"event": {"category": ["authentication"], "outcome": "success"}}
    failure = {"event": {"category": ["authentication"], "outcome": "failure"}}

    assert login.key == "login_success_and_failure"
    assert not login.is_covered_by([success])
    assert not login.is_covered_by([failure])
    assert login.is_covered_by([success, failure])


def test_mfa_type_matches_action_substring_ignoring_case(catalogue: Catalogue) -> None:
    mfa = catalogue.source("idp").log_types[1]
    okta = {"event.category": ["authentication"], "event.action": "user.MFA.factor.activate"}
    plain_login = {"event.category": ["authentication"], "event.action": "user.session.start"}

    assert mfa.is_covered_by([okta])
    assert not mfa.is_covered_by([plain_login])


def test_field_values_reads_nested_and_dotted() -> None:
    assert field_values({"event": {"category": ["iam", "web"]}}, "event.category") == [
        "iam",
        "web",
    ]
    assert field_values({"event.action": "login"}, "event.action") == ["login"]
    assert field_values({"event": {"kind": "alert"}}, "event.action") == []
    assert field_values({"event": "flat"}, "event.action") == []


def test_event_match_builds_filter_query() -> None:
    match = EventMatch.model_validate(
        {"event.category": ["authentication"], "event.action": {"contains": ["mfa"]}}
    )

    assert match.to_query() == {
        "bool": {
            "filter": [
                {"terms": {"event.category": ["authentication"]}},
                {
                    "bool": {
                        "should": [
                            {
                                "wildcard": {
                                    "event.action": {"value": "*mfa*", "case_insensitive": True}
                                }
                            }
                        ],
                        "minimum_should_match": 1,
                    }
                },
            ]
        }
    }


def test_event_match_rejects_unknown_ecs_value() -> None:
    with pytest.raises(ValidationError, match="authentification"):
        EventMatch.model_validate({"event.category": ["authentification"]})


def test_event_match_rejects_unknown_field() -> None:
    with pytest.raises(ValidationError, match="unknown field 'user.name'"):
        EventMatch.model_validate({"user.name": ["root"]})


def test_event_match_rejects_contains_on_enumerated_field() -> None:
    with pytest.raises(ValidationError, match="fixed set of ECS values"):
        EventMatch.model_validate({"event.outcome": {"contains": ["fail"]}})


def test_load_error_names_file_source_and_fix(tmp_path: Path) -> None:
    raw = _raw_catalogue()
    raw["sources"][2]["retention"] = 183
    path = _write(tmp_path, raw)

    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)

    message = str(caught.value)
    assert str(path) in message
    assert "source 'waf'" in message
    assert "sources.2.retention" in message
    assert "fix: remove the field or correct its spelling" in message


def test_load_error_for_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.json"
    path.write_text('{\n  "sources": [,]\n}\n', encoding="utf-8")

    with pytest.raises(CatalogueError, match=r"sources\.json:2:\d+: invalid JSON"):
        load_catalogue(path)


def test_load_error_for_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read the source catalogue"):
        load_catalogue(tmp_path / "absent.json")


def test_load_rejects_short_deadletter_retention(tmp_path: Path) -> None:
    raw = _raw_catalogue()
    raw["deadletter"]["retention_days"] = 90

    with pytest.raises(CatalogueError, match="raise it to at least 365"):
        load_catalogue(_write(tmp_path, raw))


def test_load_rejects_duplicate_source_key(tmp_path: Path) -> None:
    raw = _raw_catalogue()
    raw["sources"][1]["key"] = "cloud"

    with pytest.raises(CatalogueError, match="duplicate source key 'cloud'"):
        load_catalogue(_write(tmp_path, raw))


def test_load_rejects_non_positive_retention(tmp_path: Path) -> None:
    raw = _raw_catalogue()
    raw["sources"][6]["retention_days"] = 0

    with pytest.raises(CatalogueError, match="source 'edr'.*retention_days"):
        load_catalogue(_write(tmp_path, raw))
