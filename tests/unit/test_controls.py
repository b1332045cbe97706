"""Pure parts of the control mapping: controls, statuses and matrix rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socwb.catalogue import load_catalogue
from socwb.controls import (
    CHECK_CONTROLS,
    RULE_SOURCES,
    Status,
    all_controls,
    build_matrix,
    canary_status,
    rule_liveness,
    source_health,
    sources_of,
)
from socwb.coverage import SourceCoverage
from socwb.evidence.control_sections import summarise_results
from socwb.rules.catalog import (
    API_VOLUME_ANOMALY,
    CLOCK_SKEW,
    LOG_SOURCE_STOPPED,
    MALWARE_DETECTED,
    builtin_rules,
)
from socwb.selftest import SelftestResult, rule_version

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OK = Status(True, "ok")


def result(passed: bool, version: str, minutes_ago: int = 5) -> SelftestResult:
    moment = NOW - timedelta(minutes=minutes_ago)
    return SelftestResult("run", "malware_detected", version, moment, passed, "reason")


def coverage(findings_missing: list[str]) -> SourceCoverage:
    return SourceCoverage(
        source="edr",
        title="Endpoint security (EDR)",
        data_streams=["logs-edr.crowdstrike_stream-default"],
        last_event="2026-12-04T11:59:00.000Z",
        last_ingested="2026-12-04T11:59:01.000Z",
        events_24h=10,
        events_per_day={},
        log_types_seen=[],
        log_types_missing=findings_missing,
    )


def test_rule_sources_exist_in_catalogue() -> None:
    keys = {source.key for source in load_catalogue().sources}

    for rule_id, sources in RULE_SOURCES.items():
        assert set(sources) <= keys, rule_id


def test_every_rule_reading_all_sources_is_mapped() -> None:
    every_source = {LOG_SOURCE_STOPPED.id, CLOCK_SKEW.id}
    unmapped = [
        rule.id
        for rule in builtin_rules()
        if not rule.sources and rule.id not in RULE_SOURCES and rule.id not in every_source
    ]

    assert unmapped == []


def test_sources_of_rule_kinds() -> None:
    catalogue = load_catalogue()

    assert sources_of(API_VOLUME_ANOMALY, catalogue) == ["cloud"]
    assert sources_of(MALWARE_DETECTED, catalogue) == ["edr"]
    assert sources_of(LOG_SOURCE_STOPPED, catalogue) == [s.key for s in catalogue.sources]


def test_controls_cover_rules_sources_and_checks() -> None:
    catalogue = load_catalogue()
    rules = builtin_rules()

    controls = all_controls(rules, catalogue)

    ids = [control.id for control in controls]
    assert ids[: len(rules)] == [rule.id for rule in rules]
    assert {f"retention.{source.key}" for source in catalogue.sources} <= set(ids)
    assert {"check.coverage", "check.integrity", "check.selftest", "check.lifecycle"} <= set(ids)
    assert all(control.criteria and control.clause for control in controls)


def test_check_criteria() -> None:
    criteria = {control.id: control.criteria for control in CHECK_CONTROLS}

    assert "CC7.1" in criteria["check.coverage"]
    assert "CC7.2" in criteria["check.selftest"]
    assert criteria["check.alert_review"] == ("CC7.3", "CC7.4")


def test_rule_control_states_response_time() -> None:
    control = all_controls([MALWARE_DETECTED], load_catalogue())[0]

    assert control.clause == "Malware detected on an endpoint: Critical, reviewed within 15 minutes"
    assert control.criteria == ("CC6.8", "CC7.2")


def test_liveness_recent_success() -> None:
    status = rule_liveness(
        NOW - timedelta(minutes=2), "succeeded", None, now=NOW, allowed_gap=timedelta(minutes=5)
    )

    assert status.is_ok


def test_liveness_stale_failed_and_missing() -> None:
    gap = timedelta(minutes=5)

    stale = rule_liveness(NOW - timedelta(hours=1), "succeeded", None, now=NOW, allowed_gap=gap)
    failed = rule_liveness(NOW, "failed", "QueryRejectedError: bad", now=NOW, allowed_gap=gap)
    missing = rule_liveness(None, None, None, now=NOW, allowed_gap=gap)

    assert not stale.is_ok
    assert "1:00:00 ago" in stale.reason
    assert not failed.is_ok
    assert failed.reason == "last run failed: QueryRejectedError: bad"
    assert missing == Status(False, "no successful run recorded")


def test_canary_status_cases() -> None:
    current = rule_version(MALWARE_DETECTED)

    assert canary_status(MALWARE_DETECTED, result(True, current)).is_ok
    assert not canary_status(MALWARE_DETECTED, result(False, current)).is_ok
    assert not canary_status(MALWARE_DETECTED, None).is_ok
    changed = canary_status(MALWARE_DETECTED, result(True, "0" * 64))
    assert not changed.is_ok
    assert changed.reason.startswith("rule changed since its last self-test")


def test_source_health_cases() -> None:
    assert source_health(coverage([])).is_ok
    unhealthy = source_health(coverage(["detections"]))
    assert not unhealthy.is_ok
    assert unhealthy.reason == "missing log type: detections"
    assert not source_health(None).is_ok


def test_matrix_rows_per_rule_and_source() -> None:
    catalogue = load_catalogue()
    rules = [MALWARE_DETECTED, LOG_SOURCE_STOPPED]
    broken = Status(False, "failed")

    rows = build_matrix(
        rules,
        catalogue,
        liveness={rule.id: OK for rule in rules},
        canaries={MALWARE_DETECTED.id: broken, LOG_SOURCE_STOPPED.id: OK},
        health={"edr": OK},
    )

    assert len(rows) == 1 + len(catalogue.sources)
    assert (rows[0].rule_id, rows[0].source) == ("malware_detected", "edr")
    assert rows[0].canary_passing == broken
    assert rows[0].source_healthy.is_ok
    waf = next(row for row in rows if row.source == "waf")
    assert waf.source_healthy == Status(False, "no coverage status for this source")


def test_summary_counts_per_rule() -> None:
    version = rule_version(MALWARE_DETECTED)
    results = [
        result(True, version, 30),
        result(False, version, 20),
        result(True, version, 10),
    ]

    rows = summarise_results(results)

    assert rows == [
        {
            "rule_id": "malware_detected",
            "runs": 3,
            "passed": 2,
            "failed": 1,
            "last_tested_at": "2026-12-04T11:50:00.000Z",
            "last_passed": True,
        }
    ]
