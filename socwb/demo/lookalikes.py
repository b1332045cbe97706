"""Benign activity that resembles an attack. It is generated on purpose, listed in the
manifest, and must not raise alerts: a rule that fires on it has a false positive."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from socwb.demo import records
from socwb.demo.context import HourContext, TimedLine
from socwb.demo.manifest import BenignLookalike
from socwb.demo.world import User

logger = logging.getLogger(__name__)

# (day index, local hour, minute, change) of administrators' routine changes. A day
# that falls on a weekend moves to the next weekday.
_ROUTINE_CHANGES = (
    (2, 10, 12, "internal_ingress"),
    (4, 14, 35, "read_only_policy"),
    (8, 11, 5, "service_user"),
    (9, 15, 20, "github_member"),
    (11, 9, 50, "internal_ingress"),
    (17, 13, 40, "read_only_policy"),
    (20, 16, 10, "internal_ingress"),
    (23, 10, 25, "github_member"),
)

BENIGN_LOOKALIKES = (
    BenignLookalike(
        rule_id="auth_failure_spike",
        description=(
            "About 3% of Okta sign-ins, 2% of application logins and VPN connections, and 1% "
            "of SSH sessions start with one failed attempt a minute or less before the "
            "success."
        ),
    ),
    BenignLookalike(
        rule_id="failures_then_success",
        description=(
            "The single failures above are followed by a success: one failure, never eight."
        ),
    ),
    BenignLookalike(
        rule_id="firewall_rule_change",
        description=(
            "An administrator opens PostgreSQL (5432) to the internal network 10.0.0.0/16 "
            "with AuthorizeSecurityGroupIngress in business hours; the rule is not open to "
            "the world."
        ),
    ),
    BenignLookalike(
        rule_id="iam_policy_change",
        description=(
            "An administrator attaches the AWS managed policy ReadOnlyAccess to an engineer "
            "in business hours; not an escalation."
        ),
    ),
    BenignLookalike(
        rule_id="new_admin_account",
        description=(
            "An administrator creates the IAM user svc-metrics-exporter with "
            "CloudWatchReadOnlyAccess, and adds a new GitHub organization member with the "
            "member role."
        ),
    ),
    BenignLookalike(
        rule_id="data_export_above_baseline",
        description=(
            "Analysts export 0.2 to 4 MB a few times a day from the application and read "
            "report objects from S3; the nightly PostgreSQL backup runs COPY ... TO STDOUT as"
            " user backup at 01:30 local time."
        ),
    ),
    BenignLookalike(
        rule_id="privileged_off_hours",
        description=(
            "Service identities work around the clock: svc-monitoring (CloudTrail every five "
            "minutes), svc-* application accounts, and server processes run by app, syslog "
            "and backup. None of them is a privileged user."
        ),
    ),
    BenignLookalike(
        rule_id="new_login_location",
        description=(
            "The traveller (user index 7) works from Japan on days 5 to 8, during Tokyo "
            "office hours; those are the first Japanese logins, with less than 14 days of "
            "history."
        ),
    ),
    BenignLookalike(
        rule_id="password_spraying",
        description=(
            "The firewall denies probes from internet addresses and the WAF blocks SQL "
            "injection probes and rate-limits /login; none of these is a failed login."
        ),
    ),
    BenignLookalike(
        rule_id="firewall_rule_change",
        description=(
            "The network administrator logs in to the ASA (message 605005) on about 30% of "
            "workdays; no configuration command follows."
        ),
    ),
    BenignLookalike(
        rule_id="api_volume_anomaly",
        description=(
            "Routine deployments (1 to 3 per weekday) by svc-deploy and deploy-bot: ECS task "
            "definition and service updates, CI workflow runs, SSH logins of deploy to every "
            "app host and an ALTER TABLE by svc_migrate."
        ),
    ),
)


def _change_day(calendar_weekday: list[bool], day: int) -> int | None:
    while day < len(calendar_weekday) and not calendar_weekday[day]:
        day += 1
    return day if day < len(calendar_weekday) else None


def _changes_today(ctx: HourContext) -> Iterator[tuple[datetime, str]]:
    weekdays = [ctx.calendar.is_weekday(day) for day in range(ctx.calendar.days)]
    for day, hour, minute, change in _ROUTINE_CHANGES:
        if _change_day(weekdays, day) == ctx.day:
            moment = ctx.calendar.at_local(ctx.day, hour, minute, 7)
            if ctx.start <= moment < ctx.end:
                yield moment, change


def _acting_admin(ctx: HourContext, moment: datetime) -> User | None:
    for user in ctx.users[:3]:
        day = ctx.work.get(user.index)
        if day is not None and day.start <= moment < day.end:
            return user
    return None


def cloudtrail_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield the routine AWS changes of administrators that fall in this hour."""
    for moment, change in _changes_today(ctx):
        admin = _acting_admin(ctx, moment)
        if admin is None or change == "github_member":
            continue
        identity = records.iam_user_identity(admin.email)
        address = ctx.work[admin.index].ip
        for offset, (name, request) in enumerate(_aws_change(ctx, change)):
            at = moment + timedelta(seconds=20 * offset)
            source = "ec2.amazonaws.com" if name.startswith("Authorize") else "iam.amazonaws.com"
            yield (
                at,
                records.cloudtrail(ctx.rng, at, name, source, identity, address, request=request),
            )


def _aws_change(ctx: HourContext, change: str) -> list[tuple[str, records.JsonObject]]:
    if change == "internal_ingress":
        permissions = {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": 5432,
                    "toPort": 5432,
                    "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]},
                }
            ]
        }
        request = {"groupId": "sg-0a1b2c3d4e5f60718", "ipPermissions": permissions}
        return [("AuthorizeSecurityGroupIngress", request)]
    if change == "read_only_policy":
        engineer = ctx.users[4 + ctx.day % 12]
        policy = "arn:aws:iam::aws:policy/ReadOnlyAccess"
        return [("AttachUserPolicy", {"userName": engineer.email, "policyArn": policy})]
    policy = "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"
    return [
        ("CreateUser", {"userName": "svc-metrics-exporter"}),
        ("AttachUserPolicy", {"userName": "svc-metrics-exporter", "policyArn": policy}),
    ]


def github_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield the routine GitHub membership change that falls in this hour, if any."""
    for moment, change in _changes_today(ctx):
        admin = _acting_admin(ctx, moment)
        if admin is None or change != "github_member":
            continue
        member = f"new-hire-{ctx.day:02d}"
        yield (
            moment,
            records.github_audit(
                ctx.rng,
                moment,
                "org.add_member",
                admin.github,
                ctx.work[admin.index].country,
                user=member,
                permission="read",
            ),
        )
