"""Each planted scenario is present in the normalized events, and the background
stays clear of the same patterns."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from statistics import mean
from zoneinfo import ZoneInfo

import pytest

from socwb.demo import ScenarioEntry

from .conftest import NormalizedRun, field, timestamp

REQUIRED_SEVERITIES = {
    "auth_failure_spike": "High",
    "new_login_location": "Medium",
    "privileged_off_hours": "High",
    "iam_policy_change": "Critical",
    "firewall_rule_change": "High",
    "data_export_above_baseline": "Critical",
    "new_admin_account": "High",
    "log_source_stopped": "High",
    "vulnerability_critical": "High",
    "malware_detected": "Critical",
}
ATTACKS_AND_BASELINES = {
    "password_spraying",
    "failures_then_success",
    "mfa_push_fatigue",
    "impossible_travel",
    "auth_volume_anomaly",
    "api_volume_anomaly",
    "egress_anomaly",
    "resource_anomaly",
}


def _scenarios(run: NormalizedRun, rule_id: str) -> list[ScenarioEntry]:
    found = [entry for entry in run.manifest.scenarios if entry.rule_id == rule_id]
    assert found, f"no {rule_id} scenario"
    return found


def _inside(run: NormalizedRun, entry: ScenarioEntry, format_name: str) -> list[dict]:
    return [
        event for event in run.events[format_name] if entry.start <= timestamp(event) <= entry.end
    ]


def _failures(events: list[dict], user: str) -> list[dict]:
    return [
        event
        for event in events
        if field(event, "user.name") == user
        and field(event, "event.outcome") == "failure"
        and "authentication" in field(event, "event.category")
    ]


def test_rule_ids_and_severities(small_run: NormalizedRun):
    by_rule = {entry.rule_id: entry.severity for entry in small_run.manifest.scenarios}

    assert set(by_rule) == set(REQUIRED_SEVERITIES) | ATTACKS_AND_BASELINES
    for rule_id, severity in REQUIRED_SEVERITIES.items():
        assert by_rule[rule_id] == severity, rule_id


def test_scenarios_follow_history_period(small_run: NormalizedRun):
    earliest = small_run.manifest.start + timedelta(days=14)

    for entry in small_run.manifest.scenarios:
        assert entry.start >= earliest, entry.id
        assert entry.start <= entry.end, entry.id


def test_no_entity_shared_within_an_hour(small_run: NormalizedRun):
    scenarios = small_run.manifest.scenarios
    for index, first in enumerate(scenarios):
        for second in scenarios[index + 1 :]:
            if first.entity != second.entity:
                continue
            apart = second.start - first.end > timedelta(hours=1)
            assert apart or first.start - second.end > timedelta(hours=1), first.entity


def test_auth_failure_spikes(small_run: NormalizedRun):
    for entry in _scenarios(small_run, "auth_failure_spike"):
        failures = _failures(_inside(small_run, entry, entry.format), entry.entity)

        assert 11 <= len(failures) <= 15, entry.id
        assert entry.end - entry.start <= timedelta(minutes=5), entry.id


def test_auth_failure_spike_straddles_boundary(small_run: NormalizedRun):
    entry = next(e for e in _scenarios(small_run, "auth_failure_spike") if e.format == "app_json")
    failures = _failures(_inside(small_run, entry, "app_json"), entry.entity)

    minutes = Counter(timestamp(event).minute // 5 for event in failures)
    assert sorted(minutes.values()) == [5, 6]


def test_new_login_location(small_run: NormalizedRun):
    entry = _scenarios(small_run, "new_login_location")[0]
    okta = small_run.events["okta"]
    history = {
        field(event, "source.geo.country_iso_code")
        for event in okta
        if field(event, "user.name") == entry.entity and timestamp(event) < entry.start
    }
    first_seen = min(timestamp(e) for e in okta if field(e, "user.name") == entry.entity)
    logins = [
        event
        for event in _inside(small_run, entry, "okta")
        if field(event, "user.name") == entry.entity and field(event, "event.outcome") == "success"
    ]

    assert entry.start - first_seen >= timedelta(days=14)
    assert logins
    assert {field(event, "source.geo.country_iso_code") for event in logins} - history


def test_privileged_off_hours(small_run: NormalizedRun):
    zone = ZoneInfo(small_run.manifest.timezone)
    weekdays = set()
    for entry in _scenarios(small_run, "privileged_off_hours"):
        events = [
            event
            for event in _inside(small_run, entry, entry.format)
            if field(event, "user.name") == entry.entity
        ]
        local = entry.start.astimezone(zone)

        assert entry.entity in small_run.manifest.privileged_users
        assert events, entry.id
        assert local.hour == 3, entry.id
        weekdays.add(local.weekday() == 6)
    assert weekdays == {True, False}


def test_privileged_background_stays_in_business_hours(small_run: NormalizedRun):
    zone = ZoneInfo(small_run.manifest.timezone)
    privileged = set(small_run.manifest.privileged_users)
    planted = [e for e in small_run.manifest.scenarios if e.entity in privileged]
    outside = []
    for format_name, events in small_run.events.items():
        for event in events:
            if field(event, "user.name") not in privileged:
                continue
            moment = timestamp(event)
            if any(e.start <= moment <= e.end for e in planted):
                continue
            local = moment.astimezone(zone)
            if local.weekday() >= 5 or not 8 <= local.hour < 18:
                outside.append((format_name, event["@timestamp"]))
    assert outside == []


def test_iam_policy_changes_are_escalations(small_run: NormalizedRun):
    for entry in _scenarios(small_run, "iam_policy_change"):
        grants = [
            event
            for event in _inside(small_run, entry, entry.format)
            if field(event, "user.name") == entry.entity
            and field(event, "socwb.iam.is_escalation") is True
        ]

        assert len(grants) == 1, entry.id
    aws = _scenarios(small_run, "iam_policy_change")[0]
    grant = _inside(small_run, aws, "aws_cloudtrail")[-1]
    assert field(grant, "socwb.iam.permission").endswith("/AdministratorAccess")


def test_firewall_rule_changes(small_run: NormalizedRun):
    cloud, asa = sorted(_scenarios(small_run, "firewall_rule_change"), key=lambda e: e.format)
    opened = [
        e
        for e in _inside(small_run, cloud, "aws_cloudtrail")
        if field(e, "socwb.network.is_open_to_world") is True
    ]
    rule_changes = [
        e
        for e in _inside(small_run, asa, "cisco_asa")
        if field(e, "event.action") == "firewall-rule-changed"
        and field(e, "user.name") == asa.entity
    ]

    assert cloud.format == "aws_cloudtrail"
    assert [field(e, "user.name") for e in opened] == [cloud.entity]
    assert any("access-list" in field(e, "message") for e in rule_changes)
    assert all(field(e, "socwb.network.is_open_to_world") is True for e in rule_changes)


def test_benign_security_group_changes_stay_internal(small_run: NormalizedRun):
    changes = [
        e
        for e in small_run.events["aws_cloudtrail"]
        if field(e, "event.action") == "AuthorizeSecurityGroupIngress"
    ]
    open_to_world = [e for e in changes if field(e, "socwb.network.is_open_to_world")]

    assert len(changes) > len(open_to_world) == 1


def _daily_bytes(run: NormalizedRun, user: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for event in run.events["app_json"]:
        if field(event, "user.name") == user and field(event, "event.action") == "data-export":
            totals[event["@timestamp"][:10]] += field(event, "socwb.data.bytes")
    return totals


def test_data_export_above_baseline(small_run: NormalizedRun):
    entry = _scenarios(small_run, "data_export_above_baseline")[0]
    totals = _daily_bytes(small_run, entry.entity)
    day = entry.start.date().isoformat()
    usual = [value for key, value in totals.items() if key < day]

    assert len(usual) >= 5
    assert totals[day] > 10 * max(usual)


def test_new_admin_accounts(small_run: NormalizedRun):
    aws, github = sorted(_scenarios(small_run, "new_admin_account"), key=lambda e: e.format)
    aws_events = _inside(small_run, aws, "aws_cloudtrail")
    created = [e for e in aws_events if field(e, "event.action") == "CreateUser"]
    granted = [e for e in aws_events if field(e, "socwb.iam.is_escalation") is True]
    owners = [
        e
        for e in _inside(small_run, github, "github_audit")
        if field(e, "socwb.iam.is_escalation") is True
    ]

    assert [field(e, "user.target.name") for e in created] == [aws.entity]
    assert [field(e, "user.target.name") for e in granted] == [aws.entity]
    assert timestamp(created[0]) < timestamp(granted[0])
    assert [field(e, "user.target.name") for e in owners] == [github.entity]


def test_log_source_stopped(small_run: NormalizedRun):
    entry = _scenarios(small_run, "log_source_stopped")[0]
    times = [
        timestamp(event)
        for event in small_run.events["app_json"]
        if field(event, "host.name") == entry.entity
    ]
    margin = timedelta(minutes=15)

    assert not [t for t in times if entry.start <= t < entry.end]
    assert [t for t in times if entry.start - margin <= t < entry.start]
    assert [t for t in times if entry.end <= t < entry.end + margin]


def test_vulnerability_critical(small_run: NormalizedRun):
    entry = _scenarios(small_run, "vulnerability_critical")[0]
    image, cve = entry.entity.rsplit("+", 1)
    critical = [
        event
        for event in small_run.events["trivy"]
        if (field(event, "vulnerability.score.base") or 0) >= 9.0
    ]

    assert len(critical) == 1
    assert field(critical[0], "vulnerability.id") == cve
    assert field(critical[0], "container.image.name") == image


def test_malware_detected(small_run: NormalizedRun):
    entry = _scenarios(small_run, "malware_detected")[0]
    alerts = [
        e for e in small_run.events["crowdstrike_stream"] if field(e, "event.kind") == "alert"
    ]

    assert len(alerts) == 1
    assert field(alerts[0], "host.name") == entry.entity
    assert "malware" in field(alerts[0], "event.category")
    assert len(field(alerts[0], "file.hash.sha256")) == 64


def test_password_spraying(small_run: NormalizedRun):
    entry = _scenarios(small_run, "password_spraying")[0]
    failures = [
        e
        for e in _inside(small_run, entry, "okta")
        if field(e, "source.ip") == entry.entity and field(e, "event.outcome") == "failure"
    ]

    assert len({field(e, "user.name") for e in failures}) >= 15
    assert entry.end - entry.start <= timedelta(minutes=5)


def test_failures_then_success(small_run: NormalizedRun):
    entry = _scenarios(small_run, "failures_then_success")[0]
    events = [e for e in _inside(small_run, entry, "okta") if field(e, "user.name") == entry.entity]
    outcomes = [field(e, "event.outcome") for e in sorted(events, key=timestamp)]

    assert outcomes[-1] == "success"
    assert outcomes[:8] == ["failure"] * 8


def test_mfa_push_fatigue(small_run: NormalizedRun):
    entry = _scenarios(small_run, "mfa_push_fatigue")[0]
    events = sorted(
        (e for e in _inside(small_run, entry, "okta") if field(e, "socwb.auth.is_mfa_event")),
        key=timestamp,
    )
    outcomes = [field(e, "event.outcome") for e in events]

    assert outcomes.count("failure") >= 10
    assert outcomes[-1] == "success"


def test_impossible_travel(small_run: NormalizedRun):
    entry = _scenarios(small_run, "impossible_travel")[0]
    logins = [
        e
        for e in _inside(small_run, entry, "okta")
        if field(e, "user.name") == entry.entity
        and field(e, "event.action") == "user.session.start"
    ]

    assert {field(e, "source.geo.country_iso_code") for e in logins} == {"DE", "JP"}
    assert entry.end - entry.start < timedelta(hours=1)


def _hourly_counts(events: list[dict], user: str, action: str | None = None) -> Counter[str]:
    counts: Counter[str] = Counter()
    for event in events:
        if field(event, "user.name") != user:
            continue
        if action is None or field(event, "event.action") == action:
            counts[event["@timestamp"][:13]] += 1
    return counts


@pytest.mark.parametrize(
    ("rule_id", "action"),
    [("auth_volume_anomaly", "login"), ("api_volume_anomaly", None)],
    ids=["logins", "api-calls"],
)
def test_volume_anomalies(small_run: NormalizedRun, rule_id, action):
    entry = _scenarios(small_run, rule_id)[0]
    counts = _hourly_counts(small_run.events[entry.format], entry.entity, action)
    hour = entry.start.strftime("%Y-%m-%dT%H")
    usual = [value for key, value in counts.items() if key < entry.start.strftime("%Y-%m-%d")]

    assert usual
    assert counts[hour] > 3 * max(usual)


@pytest.mark.parametrize(
    ("rule_id", "metric", "name_field", "value_field"),
    [
        ("resource_anomaly", "host_metrics", "host.name", "host.cpu.usage"),
        ("egress_anomaly", "service_metrics", "service.name", "network.egress.bytes"),
    ],
    ids=["cpu", "egress"],
)
def test_metric_anomalies(small_run: NormalizedRun, rule_id, metric, name_field, value_field):
    entry = _scenarios(small_run, rule_id)[0]
    values = [
        (timestamp(doc), field(doc, value_field))
        for doc in small_run.metrics[metric]
        if field(doc, name_field) == entry.entity
    ]
    inside = [value for moment, value in values if entry.start <= moment <= entry.end]
    before = [value for moment, value in values if moment < entry.start - timedelta(days=1)]

    assert len(inside) >= 20
    assert min(inside) > 3 * mean(before)


def test_background_failures_stay_below_spike(small_run: NormalizedRun):
    planted = small_run.manifest.scenarios
    worst = 0
    for format_name in ("okta", "app_json", "openssh", "openvpn"):
        by_user: dict[str, list] = defaultdict(list)
        for event in small_run.events[format_name]:
            moment = timestamp(event)
            if any(e.start <= moment <= e.end for e in planted):
                continue
            if field(event, "event.outcome") == "failure":
                by_user[field(event, "user.name") or field(event, "source.ip")].append(moment)
        for moments in by_user.values():
            moments.sort()
            for index, moment in enumerate(moments):
                window = [m for m in moments[index:] if m - moment <= timedelta(minutes=5)]
                worst = max(worst, len(window))
    assert worst <= 2
