"""Pure parts of the self-test: rule versions, alert checks and canary construction."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from socwb.alerts.model import Alert, EntityValue, new_alert
from socwb.baselines import BaselineOptions, compute_baseline, window_end_for
from socwb.canaries import (
    CANARY_BUILDERS,
    CANARY_DOMAIN,
    CANARY_FORMATS,
    CanaryContext,
    CanaryError,
    build_canary,
    latest_off_hours,
    normalize_canary,
    silent_source,
)
from socwb.catalogue import load_catalogue
from socwb.commands.selftest import describe
from socwb.rules.catalog import MALWARE_DETECTED, builtin_rules
from socwb.rules.evaluate import floor_time, is_business_time
from socwb.rules.model import Rule, Severity, to_epoch_millis
from socwb.selftest import SelftestResult, check_alert, rule_version
from socwb.settings import OrganisationSettings

NOW = datetime(2026, 12, 2, 11, 30, tzinfo=UTC)
"""A Wednesday inside the default business hours."""


def context(**changes: object) -> CanaryContext:
    values: dict[str, object] = {
        "now": NOW,
        "rng": random.Random(7),
        "organisation": OrganisationSettings(),
        "privileged_users": ["root"],
        "silent_source": "waf",
    }
    values.update(changes)
    return CanaryContext(**values)  # type: ignore[arg-type]


def malware_alert(**changes: object) -> Alert:
    alert = new_alert(
        MALWARE_DETECTED,
        [
            EntityValue(field="host.name", value="endpoint.canary.invalid"),
            EntityValue(field="file.hash.sha256", value="ab" * 32),
        ],
        id_time=NOW,
        first_event=NOW,
        last_event=NOW,
        now=NOW,
        run_id="run-1",
    )
    return alert.model_copy(update=changes)


def test_rule_version_is_stable() -> None:
    assert rule_version(MALWARE_DETECTED) == rule_version(MALWARE_DETECTED.model_copy())
    assert len(rule_version(MALWARE_DETECTED)) == 64


def test_rule_version_changes_with_definition() -> None:
    changed = MALWARE_DETECTED.model_copy(update={"response_time": timedelta(minutes=30)})

    assert rule_version(changed) != rule_version(MALWARE_DETECTED)


def test_every_builtin_rule_has_a_canary() -> None:
    assert sorted(CANARY_BUILDERS) == sorted(rule.id for rule in builtin_rules())


def test_unknown_rule_has_no_canary() -> None:
    with pytest.raises(CanaryError, match="no canary is defined for rule 'made_up'"):
        build_canary("made_up", context())


@pytest.mark.parametrize("rule_id", sorted(CANARY_BUILDERS))
def test_canary_normalizes_and_is_marked(rule_id: str) -> None:
    canary = build_canary(rule_id, context())

    events = [event for record in canary.records for event in normalize_canary(record, None)]

    assert canary.expected_entity
    assert {record.format_name for record in canary.records} <= CANARY_FORMATS
    assert all(event["socwb"]["canary"] is True for event in events)
    if canary.silent_source is None:
        assert events


def test_canary_events_are_not_in_the_future() -> None:
    for rule_id in CANARY_BUILDERS:
        canary = build_canary(rule_id, context())
        for record in canary.records:
            for event in normalize_canary(record, None):
                moment = datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))
                assert moment < NOW, rule_id


def test_silent_source_receives_no_canary() -> None:
    keys = [source.key for source in load_catalogue().sources]

    chosen = silent_source(keys)

    assert chosen == "waf"
    assert silent_source(["idp", "app"]) is None


def test_silence_canary_needs_a_silent_source() -> None:
    with pytest.raises(CanaryError, match="none is left silent"):
        build_canary("log_source_stopped", context(silent_source=None))


def test_off_hours_login_is_outside_business_hours() -> None:
    organisation = OrganisationSettings()

    moment = latest_off_hours(NOW, organisation)

    assert moment is not None
    assert not is_business_time(moment, organisation)
    assert moment == datetime(2026, 12, 2, 7, 59, tzinfo=UTC)


def test_off_hours_found_in_narrow_gap() -> None:
    always = OrganisationSettings(
        business_hours_start="00:00",
        business_hours_end="23:59",
        business_days=[0, 1, 2, 3, 4, 5, 6],
    )

    moment = latest_off_hours(NOW.replace(hour=12), always)

    assert moment == datetime(2026, 12, 1, 23, 59, tzinfo=UTC)


def test_off_hours_canary_needs_privileged_names() -> None:
    with pytest.raises(CanaryError, match="no privileged account names"):
        build_canary("privileged_off_hours", context(privileged_users=[]))


def test_canary_names_are_reserved() -> None:
    canary = build_canary("auth_failure_spike", context())

    assert canary.expected_entity["user.name"].endswith(f"@{CANARY_DOMAIN}")


def test_check_alert_passes() -> None:
    canary = build_canary("malware_detected", context())
    alert = malware_alert(
        entity=[
            EntityValue(field="host.name", value=canary.expected_entity["host.name"]),
            EntityValue(field="file.hash.sha256", value=canary.expected_entity["file.hash.sha256"]),
        ]
    )

    passed, reason, found = check_alert(MALWARE_DETECTED, canary, [alert])

    assert passed, reason
    assert found is alert


def test_check_alert_without_canary_entity() -> None:
    canary = build_canary("malware_detected", context())

    passed, reason, found = check_alert(MALWARE_DETECTED, canary, [malware_alert()])

    assert not passed
    assert found is None
    assert reason.startswith("no malware_detected alert for the canary entity host.name=")


def test_check_alert_wrong_severity_and_due() -> None:
    canary = build_canary("malware_detected", context())
    entity = [EntityValue(field=k, value=v) for k, v in canary.expected_entity.items()]
    low = malware_alert(entity=entity, severity=Severity.LOW)
    late = malware_alert(entity=entity, due_at=NOW + timedelta(hours=4))

    severity_passed, severity_reason, _ = check_alert(MALWARE_DETECTED, canary, [low])
    due_passed, due_reason, _ = check_alert(MALWARE_DETECTED, canary, [late])

    assert not severity_passed
    assert severity_reason == "alert severity is Low, the rule's is Critical"
    assert not due_passed
    assert "expected created_at plus 0:15:00" in due_reason


def test_result_document_round_trip() -> None:
    result = SelftestResult(
        "run-1", "malware_detected", "ab" * 32, NOW, True, "ok", "id-1", "Critical", NOW, NOW
    )

    assert SelftestResult.from_document(result.to_document()) == result


def test_describe_one_line() -> None:
    failed = SelftestResult("run-1", "malware_detected", "cd" * 32, NOW, False, "no alert")

    assert describe(failed) == "malware_detected: FAILED version=cdcdcdcdcdcd no alert"


ANOMALY_RULES = [rule for rule in builtin_rules() if rule.id.endswith("_anomaly")]


@pytest.mark.parametrize("now", [NOW, datetime(2026, 12, 3, 0, 10, tzinfo=UTC)])
@pytest.mark.parametrize("rule", ANOMALY_RULES, ids=lambda rule: rule.id)
def test_anomaly_canary_history_is_warm(rule: Rule, now: datetime) -> None:
    canary = build_canary(rule.id, context(now=now))
    events = [event for record in canary.records for event in normalize_canary(record, None)]
    moments = sorted(_event_time(event) for event in events)
    history = [moment for moment in moments if moment < now - timedelta(hours=1)]
    spike_slots = {floor_time(moment, rule.lookback) for moment in moments if moment not in history}
    counts = Counter(to_epoch_millis(floor_time(moment, rule.lookback)) for moment in history)
    buckets = [(start, float(count)) for start, count in counts.items()]
    options = BaselineOptions()

    assert spike_slots
    for slot in spike_slots:
        window_end = window_end_for(slot, options)
        baseline = compute_baseline(
            rule, [], buckets, window_end=window_end, options=options, computed_at=now
        )
        assert baseline.is_warm, f"{rule.id} slot {slot}: span {baseline.data_span_seconds}s"
        assert baseline.data_points == len(buckets)


def test_anomaly_history_follows_min_span() -> None:
    options = BaselineOptions(min_span=timedelta(days=10))

    canary = build_canary("egress_anomaly", context(baselines=options))

    moments = [
        _event_time(event) for record in canary.records for event in normalize_canary(record, None)
    ]
    assert NOW - min(moments) > timedelta(days=10)


def test_anomaly_history_needs_long_window() -> None:
    options = BaselineOptions(window=timedelta(days=7), min_span=timedelta(days=7))

    with pytest.raises(CanaryError, match="SOCWB_DETECTORS__BASELINE_WINDOW"):
        build_canary("auth_volume_anomaly", context(baselines=options))


def _event_time(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["@timestamp"]).replace("Z", "+00:00"))
