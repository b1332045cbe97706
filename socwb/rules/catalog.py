"""The built-in detection rules of the monitoring policy, one per alert it requires.

Rules are Python objects rather than YAML files, so mypy and pydantic check them
when the module is imported. Each rule states the policy's own wording in
`policy_clause`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from socwb.errors import RuleError
from socwb.rules.model import (
    BaselineSpec,
    ClockSkewSpec,
    MatchSpec,
    NewValueSpec,
    QueryBody,
    Rule,
    SequenceSpec,
    Severity,
    SilenceSpec,
    ThresholdSpec,
    TravelSpec,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def _term(field: str, value: str | bool) -> QueryBody:
    return {"term": {field: value}}


def _terms(field: str, values: list[str]) -> QueryBody:
    return {"terms": {field: values}}


# The openssh normalizer emits a PAM or invalid-user line as `event.type: info`
# next to the `ssh-login-failed` line of the same attempt. Counting both lines
# would double every failed SSH login.
_SSH_DUPLICATE_LINES: QueryBody = {
    "bool": {"filter": [_term("event.dataset", "network.openssh"), _term("event.type", "info")]}
}

AUTH_FAILURE_SPIKE = Rule(
    id="auth_failure_spike",
    name="Authentication failure spike",
    severity=Severity.HIGH,
    response_time=30 * MINUTE,
    lookback=5 * MINUTE,
    criteria=["CC6.1", "CC7.2"],
    policy_clause=("Authentication failure spike: more than 10 failures in 5 minutes for one user"),
    filter=[
        _term("event.category", "authentication"),
        _term("event.outcome", "failure"),
        {"bool": {"must_not": [_SSH_DUPLICATE_LINES]}},
    ],
    spec=ThresholdSpec(group_by=["user.name"], threshold=10),
)

_LOGIN_SUCCESS: list[QueryBody] = [
    _term("event.category", "authentication"),
    _term("event.outcome", "success"),
]

PASSWORD_SPRAYING = Rule(
    id="password_spraying",
    name="Password spraying from one address",
    severity=Severity.HIGH,
    response_time=HOUR,
    lookback=5 * MINUTE,
    criteria=["CC6.1", "CC7.2"],
    policy_clause=(
        "Known attack pattern, password spraying: one source address fails to "
        "authenticate as more than 10 distinct users in 5 minutes"
    ),
    filter=AUTH_FAILURE_SPIKE.filter,
    spec=ThresholdSpec(
        group_by=["source.ip"], metric="cardinality", metric_field="user.name", threshold=10
    ),
)

# MFA denials are left to `mfa_push_fatigue`, so one push-bombing attack does
# not also count as password guessing.
_MFA_EVENT: QueryBody = {
    "bool": {
        "should": [
            _term("socwb.auth.is_mfa_event", True),
            {"wildcard": {"event.action": {"value": "*mfa*"}}},
        ],
        "minimum_should_match": 1,
    }
}

FAILURES_THEN_SUCCESS = Rule(
    id="failures_then_success",
    name="Successful login after repeated failures",
    severity=Severity.HIGH,
    response_time=HOUR,
    lookback=10 * MINUTE,
    criteria=["CC6.1", "CC7.2"],
    policy_clause=(
        "Known attack pattern, password guessing: 5 or more failed logins of one user "
        "followed by a successful login within 10 minutes"
    ),
    filter=[_term("event.category", "authentication")],
    spec=SequenceSpec(
        group_by=["user.name"],
        attempt_filter=[
            _term("event.outcome", "failure"),
            {"bool": {"must_not": [_SSH_DUPLICATE_LINES, _MFA_EVENT]}},
        ],
        success_filter=[_term("event.outcome", "success")],
        min_attempts=5,
    ),
)

MFA_PUSH_FATIGUE = Rule(
    id="mfa_push_fatigue",
    name="MFA push fatigue",
    severity=Severity.HIGH,
    response_time=HOUR,
    lookback=15 * MINUTE,
    criteria=["CC6.1", "CC7.2"],
    policy_clause=(
        "Known attack pattern, MFA push fatigue: 5 or more denied or timed-out MFA "
        "pushes of one user followed by an accepted one within 15 minutes"
    ),
    # Factor enrolment and reset events (`event.type: change`) are MFA events
    # too, but no push.
    filter=[
        _term("event.category", "authentication"),
        _MFA_EVENT,
        {"bool": {"must_not": [_term("event.type", "change")]}},
    ],
    # NOTE: Okta reports an accepted push as a successful MFA challenge
    # without naming the factor, so any successful MFA event completes the
    # sequence, and any failed one (a denial, a timeout) counts as an attempt.
    spec=SequenceSpec(
        group_by=["user.name"],
        attempt_filter=[_term("event.outcome", "failure")],
        success_filter=[_term("event.outcome", "success")],
        min_attempts=5,
    ),
)

IMPOSSIBLE_TRAVEL = Rule(
    id="impossible_travel",
    name="Impossible travel between logins",
    severity=Severity.HIGH,
    response_time=HOUR,
    # Antipodal country centroids are at most about 20,000 km apart, which
    # takes 20 hours at 1000 km/h, so logins further apart never qualify.
    lookback=timedelta(hours=20),
    criteria=["CC6.1", "CC7.2"],
    policy_clause=(
        "Known attack pattern, impossible travel: two successful logins of one user "
        "from countries too far apart to travel between at 1000 km/h"
    ),
    filter=_LOGIN_SUCCESS,
    spec=TravelSpec(group_by=["user.name"], max_speed_kmh=1000.0),
)

NEW_LOGIN_LOCATION = Rule(
    id="new_login_location",
    name="Login from a new country or address",
    severity=Severity.MEDIUM,
    response_time=4 * HOUR,
    lookback=HOUR,
    criteria=["CC6.1", "CC7.2"],
    policy_clause="Successful login from a new country or new IP",
    filter=_LOGIN_SUCCESS,
    spec=NewValueSpec(
        group_by=["user.name"],
        value_field="source.ip",
        flag_fields={"is_new_country": "source.geo.country_iso_code"},
        history=timedelta(days=30),
    ),
)

DEFAULT_PRIVILEGED_USERS: tuple[str, ...] = ("root", "admin", "administrator", "Administrator")
"""Account names treated as privileged until the settings name the organisation's own."""


def privileged_off_hours(privileged_users: Sequence[str] = DEFAULT_PRIVILEGED_USERS) -> Rule:
    """Build the rule for privileged accounts that log in outside business hours.

    Raises:
        RuleError: The list of privileged accounts is empty.
    """
    if not privileged_users:
        raise RuleError("rule 'privileged_off_hours' needs at least one privileged account name")
    return Rule(
        id="privileged_off_hours",
        name="Privileged account used outside business hours",
        severity=Severity.HIGH,
        response_time=HOUR,
        lookback=HOUR,
        criteria=["CC6.1", "CC7.2"],
        policy_clause="Privileged account used outside business hours",
        filter=[*_LOGIN_SUCCESS, _terms("user.name", sorted(privileged_users))],
        spec=MatchSpec(group_by=["user.name"], only_outside_business_hours=True),
    )


IAM_POLICY_CHANGE = Rule(
    id="iam_policy_change",
    name="IAM policy change",
    severity=Severity.CRITICAL,
    response_time=15 * MINUTE,
    lookback=15 * MINUTE,
    criteria=["CC6.2", "CC6.3", "CC7.2"],
    policy_clause="IAM policy change, permission escalation above all",
    filter=[
        _term("event.category", "iam"),
        _terms("event.type", ["change", "creation", "deletion", "admin"]),
    ],
    flags={"is_escalation": "socwb.iam.is_escalation"},
    spec=MatchSpec(group_by=["user.name"]),
)

FIREWALL_RULE_CHANGE = Rule(
    id="firewall_rule_change",
    name="Security group or firewall rule change",
    severity=Severity.HIGH,
    response_time=HOUR,
    lookback=15 * MINUTE,
    criteria=["CC6.6", "CC7.2"],
    policy_clause="Security group or firewall rule change",
    filter=[
        _term("event.category", "configuration"),
        _term("event.category", "network"),
        _terms("event.type", ["change", "creation", "deletion"]),
    ],
    flags={"is_open_to_world": "socwb.network.is_open_to_world"},
    spec=MatchSpec(group_by=["user.name"]),
)

NEW_ADMIN_ACCOUNT = Rule(
    id="new_admin_account",
    name="New admin account",
    severity=Severity.HIGH,
    response_time=HOUR,
    lookback=15 * MINUTE,
    criteria=["CC6.2", "CC7.2"],
    policy_clause="New admin account created",
    filter=[
        _term("event.category", "iam"),
        {
            "bool": {
                "should": [
                    _term("event.type", "admin"),
                    _term("socwb.iam.is_escalation", True),
                ],
                "minimum_should_match": 1,
            }
        },
    ],
    spec=MatchSpec(group_by=["user.target.name"]),
)

DATA_EXPORT_ABOVE_BASELINE = Rule(
    id="data_export_above_baseline",
    name="Data export above baseline",
    severity=Severity.CRITICAL,
    response_time=15 * MINUTE,
    lookback=HOUR,
    criteria=["C1.1", "CC7.2"],
    policy_clause=(
        "Production data export above its baseline volume; a deviation above 3 times "
        "the baseline raises an automated alert"
    ),
    filter=[_term("event.action", "data-export")],
    spec=BaselineSpec(
        group_by=["user.name"],
        sum_field="socwb.data.bytes",
        history=timedelta(days=14),
        factor=3.0,
        # NOTE: 100 MiB is an assumed floor for users without export history;
        # set it from the organisation's own export volumes.
        min_sum=100 * 1024 * 1024,
    ),
)

# NOTE: the floors and the minimum history of the five anomaly rules below
# are assumed values for an organisation of about 50 people. Set them from the
# organisation's own volumes. These rules read stored baselines, whose window
# and warm-up are detector settings (`socwb.baselines`).
_ANOMALY_MIN_HISTORY_BUCKETS = 5

AUTH_VOLUME_ANOMALY = Rule(
    id="auth_volume_anomaly",
    name="Authentication volume above baseline",
    severity=Severity.MEDIUM,
    response_time=4 * HOUR,
    lookback=HOUR,
    criteria=["CC6.1", "CC7.2"],
    policy_clause=(
        "User authentication volume: a deviation above 3 times the baseline raises "
        "an automated alert"
    ),
    filter=_LOGIN_SUCCESS,
    spec=BaselineSpec(
        group_by=["user.name"],
        sum_field=None,
        factor=3.0,
        min_sum=20,
        min_history_buckets=_ANOMALY_MIN_HISTORY_BUCKETS,
        is_stored=True,
    ),
)

API_VOLUME_ANOMALY = Rule(
    id="api_volume_anomaly",
    name="Cloud API call volume above baseline",
    severity=Severity.MEDIUM,
    response_time=4 * HOUR,
    lookback=HOUR,
    criteria=["CC7.2"],
    policy_clause=(
        "API call volume per user: a deviation above 3 times the baseline raises an automated alert"
    ),
    sources=["cloud"],
    # Console sign-ins are logins, which auth_volume_anomaly counts.
    filter=[{"bool": {"must_not": [_term("event.category", "authentication")]}}],
    spec=BaselineSpec(
        group_by=["user.name"],
        sum_field=None,
        factor=3.0,
        min_sum=100,
        min_history_buckets=_ANOMALY_MIN_HISTORY_BUCKETS,
        is_stored=True,
    ),
)

API_ENDPOINT_VOLUME_ANOMALY = Rule(
    id="api_endpoint_volume_anomaly",
    name="Cloud API endpoint call volume above baseline",
    severity=Severity.MEDIUM,
    response_time=4 * HOUR,
    lookback=HOUR,
    criteria=["CC7.2"],
    policy_clause=(
        "API call volume per endpoint: a deviation above 3 times the baseline raises an "
        "automated alert"
    ),
    sources=["cloud"],
    filter=API_VOLUME_ANOMALY.filter,
    # An endpoint is one API operation of one cloud service, e.g.
    # s3.amazonaws.com ListBuckets.
    spec=BaselineSpec(
        group_by=["event.provider", "event.action"],
        sum_field=None,
        factor=3.0,
        min_sum=100,
        min_history_buckets=_ANOMALY_MIN_HISTORY_BUCKETS,
        is_stored=True,
    ),
)

EGRESS_ANOMALY = Rule(
    id="egress_anomaly",
    name="Data egress of a service above baseline",
    severity=Severity.MEDIUM,
    response_time=4 * HOUR,
    lookback=HOUR,
    criteria=["C1.1", "CC7.2"],
    policy_clause=(
        "Data egress volume per service: a deviation above 3 times the baseline "
        "raises an automated alert"
    ),
    # Log events and the service metric documents both carry the bytes sent
    # in socwb.data.bytes.
    filter=[{"exists": {"field": "socwb.data.bytes"}}],
    spec=BaselineSpec(
        group_by=["service.name"],
        sum_field="socwb.data.bytes",
        factor=3.0,
        min_sum=100 * 1024 * 1024,
        min_history_buckets=_ANOMALY_MIN_HISTORY_BUCKETS,
        is_stored=True,
    ),
)

RESOURCE_ANOMALY = Rule(
    id="resource_anomaly",
    name="Host CPU use above baseline",
    severity=Severity.MEDIUM,
    response_time=4 * HOUR,
    lookback=HOUR,
    criteria=["A1.1", "CC7.2"],
    policy_clause=(
        "Infrastructure resource consumption: a deviation above 3 times the baseline "
        "raises an automated alert"
    ),
    sources=["metrics"],
    filter=[_term("event.dataset", "metrics.host_metrics")],
    # The window sum adds the 5-minute CPU samples (fractions of all cores) of
    # one hour: 12 samples at 50% give 6.0, the floor.
    spec=BaselineSpec(
        group_by=["host.name"],
        sum_field="host.cpu.usage",
        factor=3.0,
        min_sum=6.0,
        min_history_buckets=_ANOMALY_MIN_HISTORY_BUCKETS,
        is_stored=True,
    ),
)

CLOCK_SKEW = Rule(
    id="clock_skew",
    name="Clock skew of a log source host",
    severity=Severity.MEDIUM,
    response_time=4 * HOUR,
    interval=5 * MINUTE,
    lookback=HOUR,
    criteria=["CC7.1", "CC7.2"],
    policy_clause=("Every source uses synchronised time (NTP) so events can be correlated"),
    spec=ClockSkewSpec(max_skew=5 * MINUTE),
)

MALWARE_DETECTED = Rule(
    id="malware_detected",
    name="Malware detected on an endpoint",
    severity=Severity.CRITICAL,
    response_time=15 * MINUTE,
    lookback=30 * MINUTE,
    criteria=["CC6.8", "CC7.2"],
    policy_clause="Malware detected on an endpoint",
    filter=[_term("event.category", "malware")],
    spec=MatchSpec(group_by=["host.name", "file.hash.sha256"]),
)

VULNERABILITY_CRITICAL = Rule(
    id="vulnerability_critical",
    name="Critical vulnerability finding",
    severity=Severity.HIGH,
    response_time=4 * HOUR,
    interval=5 * MINUTE,
    # A finding of the same asset and CVE in a later scan within 30 days
    # belongs to the same alert.
    lookback=timedelta(days=30),
    criteria=["CC7.1", "CC7.2"],
    policy_clause="Vulnerability-scanner critical finding",
    sources=["vulnscan"],
    filter=[
        {
            "bool": {
                "should": [
                    {"range": {"vulnerability.score.base": {"gte": 9.0}}},
                    _term("vulnerability.severity", "Critical"),
                ],
                "minimum_should_match": 1,
            }
        }
    ],
    spec=MatchSpec(group_by=["host.name", "container.image.name", "vulnerability.id"]),
)

LOG_SOURCE_STOPPED = Rule(
    id="log_source_stopped",
    name="Log source stopped sending data",
    severity=Severity.HIGH,
    response_time=HOUR,
    criteria=["CC7.1", "CC7.2"],
    policy_clause="Log source stopped sending data",
    spec=SilenceSpec(),
)

MONITORING_DEGRADED = Rule(
    id="monitoring_degraded",
    name="Monitoring degraded",
    severity=Severity.HIGH,
    response_time=HOUR,
    criteria=["CC7.2"],
    policy_clause=(
        "Each event type raises an automated alert: a detector that could not run "
        "leaves its events unchecked"
    ),
    spec=MatchSpec(group_by=["rule.id"]),
)
"""Written by the detector itself, never scheduled: a rule's runs failed for a while."""


def builtin_rules(privileged_users: Sequence[str] = DEFAULT_PRIVILEGED_USERS) -> list[Rule]:
    """Return the scheduled built-in rules in the policy's order.

    Args:
        privileged_users: Account names that `privileged_off_hours` watches.
    """
    return [
        AUTH_FAILURE_SPIKE,
        NEW_LOGIN_LOCATION,
        privileged_off_hours(privileged_users),
        IAM_POLICY_CHANGE,
        FIREWALL_RULE_CHANGE,
        DATA_EXPORT_ABOVE_BASELINE,
        NEW_ADMIN_ACCOUNT,
        LOG_SOURCE_STOPPED,
        VULNERABILITY_CRITICAL,
        MALWARE_DETECTED,
        PASSWORD_SPRAYING,
        FAILURES_THEN_SUCCESS,
        MFA_PUSH_FATIGUE,
        IMPOSSIBLE_TRAVEL,
        AUTH_VOLUME_ANOMALY,
        API_VOLUME_ANOMALY,
        API_ENDPOINT_VOLUME_ANOMALY,
        EGRESS_ANOMALY,
        RESOURCE_ANOMALY,
        CLOCK_SKEW,
    ]


def get_rule(rule_id: str, privileged_users: Sequence[str] = DEFAULT_PRIVILEGED_USERS) -> Rule:
    """Return the built-in rule with this id.

    Raises:
        RuleError: No built-in rule has this id; the message lists the known ids.
    """
    rules = builtin_rules(privileged_users)
    for rule in rules:
        if rule.id == rule_id:
            return rule
    known = ", ".join(rule.id for rule in rules)
    raise RuleError(f"unknown rule id {rule_id!r}: use one of {known}")
