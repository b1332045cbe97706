"""Canary events of the self-test: per built-in rule, vendor records that must raise its alert.

The records are built with the demo generator's vendor record builders
(`socwb.demo.records`) and go through the same normalizers as real logs, so a
canary also checks that the normalizer still yields the fields the rule reads.
Each normalized event is marked with `socwb.canary: true`.

Entity names end in `.invalid` (RFC 2606), so a canary can never name a
real user, host or service.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from socwb.baselines import BaselineOptions
from socwb.demo import lines, records
from socwb.demo.world import country_ip
from socwb.errors import WorkbenchError
from socwb.ingest.model import Event, GeoLookup, ParseContext, Rejected
from socwb.ingest.pipeline import event_index
from socwb.ingest.registry import get_normalizer
from socwb.rules.evaluate import floor_time, is_business_time
from socwb.settings import OrganisationSettings

logger = logging.getLogger(__name__)

CANARY_FIELD = "canary"
"""Field under `socwb` that marks a canary event. The index templates map it as boolean."""

CANARY_DOMAIN = "canary.invalid"
MIB = 1024 * 1024
OFF_HOURS_SEARCH = timedelta(days=8)
"""How far back the privileged-account canary looks for a time outside business hours."""

CANARY_FORMATS = frozenset(
    {"okta", "app_json", "aws_cloudtrail", "crowdstrike_stream", "trivy", "host_metrics"}
)
"""Formats of every canary record. The silence canary uses a source outside them."""

MIN_HISTORY_DAYS = 7
"""Minimum days between the first and last history bucket of an anomaly canary.

So the history has at least 8 hourly buckets, more than the 5 active hours
that the anomaly rules need.
"""

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

_ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
_READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


class CanaryError(WorkbenchError):
    """A canary cannot be built or normalized, so its rule cannot be tested."""


@dataclass(frozen=True)
class CanaryRecord:
    """One raw vendor record and the format whose normalizer reads it."""

    format_name: str
    text: str


@dataclass(frozen=True)
class Canary:
    """The records that must make one rule raise an alert, and the alert's expected entity.

    Attributes:
        rule_id: The rule under test.
        records: Raw vendor records, written before the detector cycle.
        expected_entity: Entity fields and values that the rule's alert must carry.
        silent_source: For silence rules, the catalogue source that must be reported
            as never having sent. It receives no canary records.
    """

    rule_id: str
    records: list[CanaryRecord] = field(default_factory=list)
    expected_entity: dict[str, str] = field(default_factory=dict)
    silent_source: str | None = None


@dataclass(frozen=True)
class CanaryContext:
    """Inputs every canary builder receives.

    Attributes:
        now: Time of the self-test run, aware UTC. Canary events are dated before it.
        rng: Random source for event ids and addresses, fresh per run.
        organisation: Business hours, for the off-hours canary.
        privileged_users: Account names the off-hours rule watches.
        silent_source: Catalogue source left without events, for the silence canary.
        baselines: Window, warm-up and refresh of the stored baselines, which the
            history of the anomaly canaries must satisfy.
    """

    now: datetime
    rng: random.Random
    organisation: OrganisationSettings
    privileged_users: Sequence[str]
    silent_source: str | None
    baselines: BaselineOptions = BaselineOptions()


def canary_user(rule_id: str) -> str:
    """Return the user name of a rule's canary, e.g. `auth-failure-spike@canary.invalid`."""
    return f"{rule_id.replace('_', '-')}@{CANARY_DOMAIN}"


def _every(start: datetime, step_seconds: float, count: int) -> list[datetime]:
    return [start + timedelta(seconds=step_seconds * index) for index in range(count)]


def _history_hours(context: CanaryContext) -> list[datetime]:
    """Return one UTC hour per day whose buckets warm up the stored baseline of the last hour.

    Every spike of an anomaly canary lies in the last hour, so each of its slots
    reads a baseline window that ends at or after `end`, the refresh boundary
    of the hour before now. The history ends one hour before `end` and goes
    back whole days until the span of its buckets reaches the warm-up span.

    Raises:
        CanaryError: The baseline window is too short to hold that history.
    """
    options = context.baselines
    end = floor_time(floor_time(context.now - HOUR, HOUR), options.refresh)
    days = max(math.ceil(options.min_span / DAY), MIN_HISTORY_DAYS)
    needed = days * DAY + HOUR + options.refresh
    if needed > options.window:
        raise CanaryError(
            f"the baseline window {options.window} cannot hold a warm-up span of "
            f"{options.min_span} plus the refresh interval {options.refresh}, so no "
            f"anomaly canary can warm up: set SOCWB_DETECTORS__BASELINE_WINDOW to at "
            f"least {needed}"
        )
    last = end - HOUR
    return [last - day * DAY for day in range(days + 1)]


def _okta(
    context: CanaryContext,
    moment: datetime,
    event_type: str,
    user: str,
    client: tuple[str, str],
    *,
    result: str = "SUCCESS",
) -> CanaryRecord:
    reason = None if result == "SUCCESS" else "INVALID_CREDENTIALS"
    text = records.okta(
        context.rng, moment, event_type, (user, user), client, result=result, reason=reason
    )
    return CanaryRecord("okta", text)


def _app(context: CanaryContext, moment: datetime, *args: Any, **optional: Any) -> CanaryRecord:
    return CanaryRecord("app_json", records.app_event(context.rng, moment, *args, **optional))


def _cloudtrail(
    context: CanaryContext,
    moment: datetime,
    event_name: str,
    event_source: str,
    user: str,
    request: dict[str, Any] | None = None,
) -> CanaryRecord:
    identity = records.iam_user_identity(user)
    address = country_ip("DE", context.rng)
    text = records.cloudtrail(
        context.rng, moment, event_name, event_source, identity, address, request=request
    )
    return CanaryRecord("aws_cloudtrail", text)


def _auth_failure_spike(context: CanaryContext) -> Canary:
    user = canary_user("auth_failure_spike")
    client = (country_ip("DE", context.rng), "DE")
    start = context.now - timedelta(minutes=4)
    failures = [
        _okta(context, moment, "user.session.start", user, client, result="FAILURE")
        for moment in _every(start, 15, 12)
    ]
    return Canary("auth_failure_spike", failures, {"user.name": user})


def _password_spraying(context: CanaryContext) -> Canary:
    address = country_ip("RU", context.rng)
    start = context.now - timedelta(minutes=4)
    failures = [
        _okta(
            context,
            moment,
            "user.session.start",
            f"spray-target-{number}@{CANARY_DOMAIN}",
            (address, "RU"),
            result="FAILURE",
        )
        for number, moment in enumerate(_every(start, 15, 12))
    ]
    return Canary("password_spraying", failures, {"source.ip": address})


def _failures_then_success(context: CanaryContext) -> Canary:
    user = canary_user("failures_then_success")
    client = (country_ip("DE", context.rng), "DE")
    start = context.now - timedelta(minutes=6)
    attempts = [
        _okta(context, moment, "user.session.start", user, client, result="FAILURE")
        for moment in _every(start, 30, 6)
    ]
    success = _okta(context, start + timedelta(minutes=4), "user.session.start", user, client)
    return Canary("failures_then_success", [*attempts, success], {"user.name": user})


def _mfa_push_fatigue(context: CanaryContext) -> Canary:
    user = canary_user("mfa_push_fatigue")
    client = (country_ip("DE", context.rng), "DE")
    start = context.now - timedelta(minutes=8)
    denials = [
        _okta(context, moment, "user.mfa.okta_verify.deny_push", user, client, result="FAILURE")
        for moment in _every(start, 45, 6)
    ]
    accepted = _okta(
        context, start + timedelta(minutes=6), "user.authentication.auth_via_mfa", user, client
    )
    return Canary("mfa_push_fatigue", [*denials, accepted], {"user.name": user})


def _impossible_travel(context: CanaryContext) -> Canary:
    user = canary_user("impossible_travel")
    home = (country_ip("DE", context.rng), "DE")
    away = (country_ip("JP", context.rng), "JP")
    logins = [
        _okta(context, context.now - timedelta(minutes=40), "user.session.start", user, home),
        _okta(context, context.now - timedelta(minutes=10), "user.session.start", user, away),
    ]
    return Canary("impossible_travel", logins, {"user.name": user})


def _new_login_location(context: CanaryContext) -> Canary:
    user = canary_user("new_login_location")
    known = (country_ip("DE", context.rng), "DE")
    new = (country_ip("ES", context.rng), "ES")
    logins = [
        _okta(context, context.now - timedelta(days=2), "user.session.start", user, known),
        _okta(context, context.now - timedelta(minutes=5), "user.session.start", user, new),
    ]
    return Canary("new_login_location", logins, {"user.name": user, "source.ip": new[0]})


def latest_off_hours(now: datetime, organisation: OrganisationSettings) -> datetime | None:
    """Return the latest quarter hour before `now` outside business hours, or None within 8 days."""
    moment = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    while now - moment <= OFF_HOURS_SEARCH:
        if not is_business_time(moment, organisation):
            return moment
        moment -= timedelta(minutes=15)
    return None


def _privileged_off_hours(context: CanaryContext) -> Canary:
    if not context.privileged_users:
        raise CanaryError("no privileged account names are set, so no canary login can be built")
    moment = latest_off_hours(context.now, context.organisation)
    if moment is None:
        raise CanaryError(
            "the business hours leave no time outside them in the last 8 days, so no "
            "off-hours canary login can be dated"
        )
    user = context.privileged_users[0]
    login = _app(
        context,
        moment,
        "authentication",
        "login",
        "success",
        user,
        service=f"selftest.{CANARY_DOMAIN}",
        host=f"app.{CANARY_DOMAIN}",
    )
    return Canary("privileged_off_hours", [login], {"user.name": user})


def _iam_policy_change(context: CanaryContext) -> Canary:
    user = canary_user("iam_policy_change")
    request = {"userName": f"reader@{CANARY_DOMAIN}", "policyArn": _READ_ONLY_POLICY}
    moment = context.now - timedelta(minutes=2)
    change = _cloudtrail(context, moment, "AttachUserPolicy", "iam.amazonaws.com", user, request)
    return Canary("iam_policy_change", [change], {"user.name": user})


def _new_admin_account(context: CanaryContext) -> Canary:
    target = f"new-admin@{CANARY_DOMAIN}"
    request = {"userName": target, "policyArn": _ADMIN_POLICY}
    moment = context.now - timedelta(minutes=2)
    grant = _cloudtrail(
        context,
        moment,
        "AttachUserPolicy",
        "iam.amazonaws.com",
        canary_user("new_admin_account"),
        request,
    )
    return Canary("new_admin_account", [grant], {"user.target.name": target})


def _firewall_rule_change(context: CanaryContext) -> Canary:
    user = canary_user("firewall_rule_change")
    request = {"groupId": "sg-0000000000000000c", "groupName": "selftest-canary"}
    moment = context.now - timedelta(minutes=2)
    change = _cloudtrail(
        context, moment, "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", user, request
    )
    return Canary("firewall_rule_change", [change], {"user.name": user})


def _export(
    context: CanaryContext, moment: datetime, user: str, service: str, size: int
) -> CanaryRecord:
    return _app(
        context,
        moment,
        "data_access",
        "export",
        "success",
        user,
        data={"resource": "canary", "records": 1, "bytes": size},
        service=service,
        host=f"app.{CANARY_DOMAIN}",
    )


def _data_export_above_baseline(context: CanaryContext) -> Canary:
    user = canary_user("data_export_above_baseline")
    service = f"export.{CANARY_DOMAIN}"
    export = _export(context, context.now - timedelta(minutes=3), user, service, 300 * MIB)
    return Canary("data_export_above_baseline", [export], {"user.name": user})


def _egress_anomaly(context: CanaryContext) -> Canary:
    service = f"egress.{CANARY_DOMAIN}"
    user = canary_user("egress_anomaly")
    history = [_export(context, hour, user, service, 20 * MIB) for hour in _history_hours(context)]
    spike = _export(context, context.now - timedelta(minutes=3), user, service, 500 * MIB)
    return Canary("egress_anomaly", [*history, spike], {"service.name": service})


def _login(context: CanaryContext, moment: datetime, user: str) -> CanaryRecord:
    return _app(
        context,
        moment,
        "authentication",
        "login",
        "success",
        user,
        service=f"selftest.{CANARY_DOMAIN}",
        host=f"app.{CANARY_DOMAIN}",
    )


def _auth_volume_anomaly(context: CanaryContext) -> Canary:
    user = canary_user("auth_volume_anomaly")
    history = [
        _login(context, moment, user)
        for hour in _history_hours(context)
        for moment in _every(hour, 60, 2)
    ]
    burst = [
        _login(context, moment, user)
        for moment in _every(context.now - timedelta(minutes=12), 20, 30)
    ]
    return Canary("auth_volume_anomaly", [*history, *burst], {"user.name": user})


def _api_calls(context: CanaryContext, user: str, operation: tuple[str, str]) -> list[CanaryRecord]:
    """Return 5 calls of one API operation in each history hour, then 120 in 20 minutes."""
    event_name, event_source = operation
    moments = [
        *(moment for hour in _history_hours(context) for moment in _every(hour, 60, 5)),
        *_every(context.now - timedelta(minutes=21), 10, 120),
    ]
    return [_cloudtrail(context, moment, event_name, event_source, user) for moment in moments]


def _api_volume_anomaly(context: CanaryContext) -> Canary:
    user = canary_user("api_volume_anomaly")
    calls = _api_calls(context, user, ("ListBuckets", "s3.amazonaws.com"))
    return Canary("api_volume_anomaly", calls, {"user.name": user})


def _api_endpoint_volume_anomaly(context: CanaryContext) -> Canary:
    # An operation that no other canary calls, so this canary alone raises the endpoint's alert.
    operation = ("DescribeInstances", "ec2.amazonaws.com")
    calls = _api_calls(context, canary_user("api_endpoint_volume_anomaly"), operation)
    expected = {"event.provider": operation[1], "event.action": operation[0]}
    return Canary("api_endpoint_volume_anomaly", calls, expected)


def _host_metric(context: CanaryContext, moment: datetime, host: str, cpu: float) -> CanaryRecord:
    network = (context.rng.randrange(1, 1000) * 1024, context.rng.randrange(1, 1000) * 1024)
    text = lines.host_metric(moment, host, f"selftest.{CANARY_DOMAIN}", cpu, 0.4, network)
    return CanaryRecord("host_metrics", text)


def _resource_anomaly(context: CanaryContext) -> Canary:
    host = f"cpu.{CANARY_DOMAIN}"
    history = [
        _host_metric(context, moment, host, 0.2)
        for hour in _history_hours(context)
        for moment in _every(hour, 300, 3)
    ]
    # 8 five-minute samples at 95% sum to 7.6, above the 6.0 floor of one hour.
    spike = [
        _host_metric(context, moment, host, 0.95)
        for moment in _every(context.now - timedelta(minutes=40), 300, 8)
    ]
    return Canary("resource_anomaly", [*history, *spike], {"host.name": host})


def _clock_skew(context: CanaryContext) -> Canary:
    # A host whose clock runs about 20 minutes behind: its 4 samples are dated
    # 21 to 24 minutes before the engine receives them.
    host = f"slow-clock.{CANARY_DOMAIN}"
    start = context.now - timedelta(minutes=24)
    samples = [_host_metric(context, moment, host, 0.1) for moment in _every(start, 60, 4)]
    return Canary("clock_skew", samples, {"host.name": host})


def _malware_detected(context: CanaryContext) -> Canary:
    host = f"endpoint.{CANARY_DOMAIN}"
    sha256 = f"{context.rng.getrandbits(256):064x}"
    path = "\\Device\\HarddiskVolume3\\selftest\\canary.exe"
    moment = context.now - timedelta(minutes=2)
    text = records.crowdstrike_detection(
        context.rng, moment, host, "selftest", path, sha256, f'"{path}"'
    )
    return Canary(
        "malware_detected",
        [CanaryRecord("crowdstrike_stream", text)],
        {"host.name": host, "file.hash.sha256": sha256},
    )


def _vulnerability_critical(context: CanaryContext) -> Canary:
    image = f"registry.{CANARY_DOMAIN}/selftest:canary"
    cve = "CVE-2021-44228"
    finding = records.trivy_vulnerability(
        cve,
        ("org.apache.logging.log4j:log4j-core", "2.14.1", "2.15.0"),
        "CRITICAL",
        10.0,
        "log4j-core: remote code execution via JNDI lookups",
    )
    report = records.trivy_report(
        context.now - timedelta(minutes=2), image, [("Java", "jar", [finding])]
    )
    return Canary(
        "vulnerability_critical",
        [CanaryRecord("trivy", report)],
        {"container.image.name": image, "vulnerability.id": cve},
    )


def _log_source_stopped(context: CanaryContext) -> Canary:
    if context.silent_source is None:
        raise CanaryError(
            "every catalogue source receives canary events, so none is left silent for "
            "the silence rule"
        )
    return Canary(
        "log_source_stopped",
        expected_entity={"source": context.silent_source},
        silent_source=context.silent_source,
    )


CanaryBuilder = Callable[[CanaryContext], Canary]

CANARY_BUILDERS: Mapping[str, CanaryBuilder] = {
    "auth_failure_spike": _auth_failure_spike,
    "new_login_location": _new_login_location,
    "privileged_off_hours": _privileged_off_hours,
    "iam_policy_change": _iam_policy_change,
    "firewall_rule_change": _firewall_rule_change,
    "data_export_above_baseline": _data_export_above_baseline,
    "new_admin_account": _new_admin_account,
    "log_source_stopped": _log_source_stopped,
    "vulnerability_critical": _vulnerability_critical,
    "malware_detected": _malware_detected,
    "password_spraying": _password_spraying,
    "failures_then_success": _failures_then_success,
    "mfa_push_fatigue": _mfa_push_fatigue,
    "impossible_travel": _impossible_travel,
    "auth_volume_anomaly": _auth_volume_anomaly,
    "api_volume_anomaly": _api_volume_anomaly,
    "api_endpoint_volume_anomaly": _api_endpoint_volume_anomaly,
    "egress_anomaly": _egress_anomaly,
    "resource_anomaly": _resource_anomaly,
    "clock_skew": _clock_skew,
}
"""Canary builder per built-in rule id."""


def build_canary(rule_id: str, context: CanaryContext) -> Canary:
    """Build the canary of one rule.

    Raises:
        CanaryError: No canary is defined for the rule, or its builder cannot
            build one with these settings.
    """
    builder = CANARY_BUILDERS.get(rule_id)
    if builder is None:
        known = ", ".join(sorted(CANARY_BUILDERS))
        raise CanaryError(
            f"no canary is defined for rule {rule_id!r}, so it cannot be tested: add a "
            f"builder to CANARY_BUILDERS in socwb/canaries.py (canaries exist for {known})"
        )
    return builder(context)


def normalize_canary(record: CanaryRecord, geo: GeoLookup | None) -> list[Event]:
    """Normalize one canary record and mark every event with `socwb.canary: true`.

    Raises:
        CanaryError: The normalizer rejected the record, so the format changed
            under the canary.
    """
    normalizer = get_normalizer(record.format_name)
    context = ParseContext(source_name="selftest", geo=geo)
    events: list[Event] = []
    for result in normalizer.parse(record.text.splitlines(), context):
        if isinstance(result, Rejected):
            raise CanaryError(
                f"the {record.format_name} normalizer rejected a canary record: {result.reason}"
            )
        result.setdefault("socwb", {})[CANARY_FIELD] = True
        events.append(result)
    return events


def stream_of(format_name: str, namespace: str) -> str:
    """Return the data stream a format's events go to, as `socwb ingest` names it."""
    normalizer = get_normalizer(format_name)
    return event_index(normalizer.source, normalizer.name, namespace)


def silent_source(source_keys: Sequence[str]) -> str | None:
    """Return the first source that no canary format writes to, or None when all get events."""
    written = {get_normalizer(name).source for name in CANARY_FORMATS}
    return next((key for key in source_keys if key not in written), None)
