"""Tests for the worst-case retention calculator, on the shipped policies and on bad ones."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from socwb.catalogue import load_catalogue
from socwb.retention import (
    NEVER_DELETED,
    Engine,
    RetentionPolicyError,
    check_retention,
    format_age,
    parse_time_value,
    youngest_document_age_at_delete,
)

POLICY_ROOT = Path(__file__).resolve().parents[2] / "ilm_policies"
CATALOGUE = load_catalogue()
REQUIRED_DAYS = {source.key: source.retention_days for source in CATALOGUE.sources}
REQUIRED_DAYS["deadletter"] = CATALOGUE.deadletter.retention_days
NO_DELAY = timedelta(0)


def _load_policy(engine: Engine, name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((POLICY_ROOT / engine / f"{name}.json").read_text())
    return body


def _ism(states: list[dict[str, Any]], default_state: str = "hot") -> dict[str, Any]:
    return {"policy": {"description": "test", "default_state": default_state, "states": states}}


def _ism_state(
    name: str, actions: list[dict[str, Any]], transitions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"name": name, "actions": actions, "transitions": transitions or []}


def _to(state: str, **condition: Any) -> dict[str, Any]:
    if not condition:
        return {"state_name": state}
    return {"state_name": state, "conditions": condition}


DELETE_STATE = _ism_state("delete", [{"delete": {}}])


def _ilm(phases: dict[str, Any]) -> dict[str, Any]:
    return {"policy": {"phases": phases}}


HOT_ILM = {"min_age": "0ms", "actions": {"rollover": {"max_age": "30d"}}}


@pytest.mark.parametrize("engine", ["opensearch", "elasticsearch"])
@pytest.mark.parametrize("name", sorted(REQUIRED_DAYS))
def test_shipped_policy_meets_catalogue_retention(engine: Engine, name: str) -> None:
    policy = _load_policy(engine, f"socwb-retention-{name}")
    required = timedelta(days=REQUIRED_DAYS[name])

    check = check_retention(policy, engine, required)

    assert check.is_met, f"{engine} {name}: {check.describe()}"


@pytest.mark.parametrize("engine", ["opensearch", "elasticsearch"])
def test_shipped_policy_ignores_scheduler_delay(engine: Engine) -> None:
    policy = _load_policy(engine, "socwb-retention-cloud")

    late = youngest_document_age_at_delete(policy, engine, scheduler_delay=timedelta(days=30))

    assert late == timedelta(days=365)


def test_ism_index_age_delete_after_hot_phase_fails() -> None:
    policy = _ism(
        [
            _ism_state(
                "hot",
                [{"rollover": {"min_index_age": "30d", "min_size": "30gb"}}],
                [_to("delete", min_index_age="365d")],
            ),
            DELETE_STATE,
        ]
    )

    exact = youngest_document_age_at_delete(policy, "opensearch", scheduler_delay=NO_DELAY)
    check = check_retention(policy, "opensearch", timedelta(days=365))

    assert exact == timedelta(days=335)
    assert check.guaranteed < timedelta(days=335)
    assert not check.is_met


def test_ism_size_rollover_then_index_age() -> None:
    policy = _ism(
        [
            _ism_state(
                "hot", [{"rollover": {"min_size": "30gb"}}], [_to("delete", min_index_age="365d")]
            ),
            DELETE_STATE,
        ]
    )

    assert youngest_document_age_at_delete(policy, "opensearch") == timedelta(0)


def test_ism_index_age_without_rollover_guarantees_nothing() -> None:
    policy = _ism([_ism_state("hot", [], [_to("delete", min_index_age="400d")]), DELETE_STATE])

    assert youngest_document_age_at_delete(policy, "opensearch") == timedelta(0)


def test_ism_index_age_before_rollover_does_not_count() -> None:
    policy = _ism(
        [
            _ism_state("hot", [], [_to("sealed", min_index_age="400d")]),
            _ism_state("sealed", [{"rollover": {"min_doc_count": 10}}], [_to("delete")]),
            DELETE_STATE,
        ]
    )

    assert youngest_document_age_at_delete(policy, "opensearch") == timedelta(0)


def test_ism_rollover_age_needs_no_rollover_action() -> None:
    policy = _ism([_ism_state("hot", [], [_to("delete", min_rollover_age="365d")]), DELETE_STATE])

    assert youngest_document_age_at_delete(policy, "opensearch") == timedelta(days=365)


def test_ism_rollover_and_delete_together() -> None:
    policy = _ism([_ism_state("hot", [{"rollover": {"min_index_age": "1d"}}, {"delete": {}}])])

    assert youngest_document_age_at_delete(policy, "opensearch") == timedelta(0)


def test_ism_worst_branch_decides() -> None:
    policy = _ism(
        [
            _ism_state(
                "hot",
                [{"rollover": {"min_index_age": "1d"}}],
                [
                    _to("delete", min_rollover_age="365d"),
                    _to("delete", min_doc_count=1_000_000),
                ],
            ),
            DELETE_STATE,
        ]
    )

    assert youngest_document_age_at_delete(policy, "opensearch") == timedelta(0)


def test_ism_warm_state_keeps_rollover_age() -> None:
    policy = _ism(
        [
            _ism_state("hot", [{"rollover": {"min_index_age": "7d"}}], [_to("warm")]),
            _ism_state(
                "warm",
                [{"replica_count": {"number_of_replicas": 1}}],
                [_to("delete", min_rollover_age="183d")],
            ),
            DELETE_STATE,
        ]
    )

    assert youngest_document_age_at_delete(policy, "opensearch") == timedelta(days=183)


def test_ism_cycle_without_delete_never_deletes() -> None:
    policy = _ism(
        [
            _ism_state("hot", [], [_to("warm", min_index_age="1d")]),
            _ism_state("warm", [], [_to("hot", min_index_age="2d")]),
        ]
    )

    assert youngest_document_age_at_delete(policy, "opensearch") == NEVER_DELETED


def test_ism_without_delete_meets_any_requirement() -> None:
    policy = _ism([_ism_state("hot", [{"rollover": {"min_index_age": "1d"}}, {"read_only": {}}])])

    check = check_retention(policy, "opensearch", timedelta(days=365))

    assert check.guaranteed == NEVER_DELETED
    assert check.is_met
    assert check.describe() == "guarantees forever, requires 365 days"


def test_ism_rejects_two_conditions_in_one_transition() -> None:
    policy = _ism(
        [
            _ism_state(
                "hot",
                [],
                [_to("delete", min_rollover_age="365d", min_doc_count=5)],
            ),
            DELETE_STATE,
        ]
    )

    with pytest.raises(RetentionPolicyError, match="exactly one condition"):
        youngest_document_age_at_delete(policy, "opensearch")


def test_ism_rejects_unknown_target_state() -> None:
    policy = _ism([_ism_state("hot", [], [_to("gone", min_index_age="1d")])])

    with pytest.raises(RetentionPolicyError, match="unknown state 'gone'"):
        youngest_document_age_at_delete(policy, "opensearch")


def test_ism_rejects_missing_default_state() -> None:
    policy = _ism([DELETE_STATE], default_state="hot")

    with pytest.raises(RetentionPolicyError, match="default_state 'hot'"):
        youngest_document_age_at_delete(policy, "opensearch")


def test_ism_rejects_unknown_rollover_condition() -> None:
    policy = _ism([_ism_state("hot", [{"rollover": {"max_age": "30d"}}])])

    with pytest.raises(RetentionPolicyError, match=r"unknown keys \['max_age'\]"):
        youngest_document_age_at_delete(policy, "opensearch")


def test_ism_rejects_action_with_two_types() -> None:
    policy = _ism([_ism_state("hot", [{"read_only": {}, "delete": {}}])])

    with pytest.raises(RetentionPolicyError, match="exactly one action type"):
        youngest_document_age_at_delete(policy, "opensearch")


def test_ilm_short_delete_phase_fails() -> None:
    policy = _ilm({"hot": HOT_ILM, "delete": {"min_age": "300d", "actions": {"delete": {}}}})

    check = check_retention(policy, "elasticsearch", timedelta(days=365))

    assert check.guaranteed == timedelta(days=300)
    assert not check.is_met


def test_ilm_delete_without_rollover_guarantees_nothing() -> None:
    policy = _ilm(
        {
            "hot": {"actions": {"set_priority": {"priority": 100}}},
            "delete": {"min_age": "400d", "actions": {"delete": {}}},
        }
    )

    assert youngest_document_age_at_delete(policy, "elasticsearch") == timedelta(0)


def test_ilm_later_phase_age_carries_to_delete() -> None:
    policy = _ilm(
        {
            "hot": HOT_ILM,
            "cold": {"min_age": "400d", "actions": {}},
            "delete": {"min_age": "365d", "actions": {"delete": {}}},
        }
    )

    assert youngest_document_age_at_delete(policy, "elasticsearch") == timedelta(days=400)


def test_ilm_delete_phase_without_delete_action_never_deletes() -> None:
    policy = _ilm({"hot": HOT_ILM, "delete": {"min_age": "1d", "actions": {}}})

    assert youngest_document_age_at_delete(policy, "elasticsearch") == NEVER_DELETED


def test_ilm_rejects_rollover_without_max_condition() -> None:
    policy = _ilm({"hot": {"actions": {"rollover": {"min_docs": 1}}}})

    with pytest.raises(RetentionPolicyError, match="no max_\\* condition"):
        youngest_document_age_at_delete(policy, "elasticsearch")


def test_ilm_rejects_unknown_phase() -> None:
    policy = _ilm({"lukewarm": {"actions": {}}})

    with pytest.raises(RetentionPolicyError, match="lukewarm"):
        youngest_document_age_at_delete(policy, "elasticsearch")


def test_ilm_rejects_delete_outside_delete_phase() -> None:
    policy = _ilm({"warm": {"min_age": "1d", "actions": {"delete": {}}}})

    with pytest.raises(RetentionPolicyError, match="only allowed in the delete phase"):
        youngest_document_age_at_delete(policy, "elasticsearch")


def test_body_without_policy_object_is_rejected() -> None:
    with pytest.raises(RetentionPolicyError, match="'policy' object"):
        youngest_document_age_at_delete({"phases": {}}, "elasticsearch")


def test_unknown_engine_is_rejected() -> None:
    policy = _ilm({"hot": HOT_ILM})

    with pytest.raises(RetentionPolicyError, match="unknown engine 'solr'"):
        youngest_document_age_at_delete(policy, "solr")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("365d", timedelta(days=365)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("30s", timedelta(seconds=30)),
        ("0ms", timedelta(0)),
        ("1500micros", timedelta(microseconds=1500)),
        ("2000000nanos", timedelta(milliseconds=2)),
    ],
)
def test_parse_time_value_units(text: str, expected: timedelta) -> None:
    assert parse_time_value(text, "test") == expected


@pytest.mark.parametrize("text", ["365", "1.5d", "1w", "-1d", "", 365])
def test_parse_time_value_rejects_invalid(text: object) -> None:
    with pytest.raises(RetentionPolicyError, match="invalid time value"):
        parse_time_value(text, "test")


def test_ism_transition_with_bad_time_value_is_rejected() -> None:
    policy = _ism([_ism_state("hot", [], [_to("delete", min_rollover_age="1y")]), DELETE_STATE])

    with pytest.raises(RetentionPolicyError, match="transition to 'delete' min_rollover_age"):
        youngest_document_age_at_delete(policy, "opensearch")


def test_format_age() -> None:
    assert format_age(timedelta(days=365)) == "365 days"
    assert format_age(timedelta(days=334, hours=23)) == "334.958 days"
    assert format_age(NEVER_DELETED) == "forever"
