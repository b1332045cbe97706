"""Benign background made by people: IdP and application logins, AWS API calls,
GitHub activity, VPN connections and SSH sessions, all inside each person's work day."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from socwb.demo import lines, records
from socwb.demo.context import HourContext, TimedLine
from socwb.demo.world import (
    APP_HOSTS,
    APP_SERVICE_ACCOUNTS,
    GITHUB_ORG,
    SERVER_ADDRESSES,
    SERVER_HOSTS,
    VPN_HOST,
    User,
    WorkDay,
    vpn_address,
)

logger = logging.getLogger(__name__)

APP_SERVICE = "shop-backoffice"
ANALYTICS_BUCKET = "example-analytics-exports"
REPOSITORIES = ("shop-web", "payments-api", "orders-service", "infra", "data-pipelines")
_READ_CALLS = (
    ("DescribeInstances", "ec2.amazonaws.com"),
    ("DescribeSecurityGroups", "ec2.amazonaws.com"),
    ("ListBuckets", "s3.amazonaws.com"),
    ("DescribeLogGroups", "logs.amazonaws.com"),
    ("GetMetricData", "monitoring.amazonaws.com"),
    ("DescribeServices", "ecs.amazonaws.com"),
    ("ListFunctions", "lambda.amazonaws.com"),
    ("DescribeDBInstances", "rds.amazonaws.com"),
    ("GetCallerIdentity", "sts.amazonaws.com"),
)
_APP_RESOURCES = ("orders", "customers", "invoices", "products", "shipments")
_CI_RUNNER = "10.0.2.5"


def _starts_here(ctx: HourContext, moment: datetime) -> bool:
    return ctx.start <= moment < ctx.end


def deploy_times(ctx: HourContext) -> list[datetime]:
    """Return the day's routine deployments: 1 to 3 on weekdays in business hours."""
    if not ctx.calendar.is_weekday(ctx.day):
        return []
    rng = ctx.day_rng("deploys")
    hours = rng.sample(range(10, 17), rng.randint(1, 3))
    return sorted(
        ctx.calendar.at_local(ctx.day, hour, rng.randint(0, 50), rng.randint(0, 59))
        for hour in hours
    )


def okta_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield Okta sign-ins at the start of each work day and SSO into apps during it."""
    rng = ctx.rng
    for user, day, low, high in ctx.at_work():
        actor = (user.email, user.display_name)
        client = (day.ip, day.country)
        if _starts_here(ctx, day.start):
            if rng.random() < 0.03:
                moment = day.start - timedelta(seconds=rng.randint(20, 90))
                line = records.okta(
                    rng,
                    moment,
                    "user.session.start",
                    actor,
                    client,
                    result="FAILURE",
                    reason="INVALID_CREDENTIALS",
                    message="User login to Okta",
                )
                yield moment, line
            yield (
                day.start,
                records.okta(
                    rng,
                    day.start,
                    "user.authentication.auth_via_mfa",
                    actor,
                    client,
                    message="Authentication of user via MFA",
                ),
            )
            moment = day.start + timedelta(seconds=4)
            yield (
                moment,
                records.okta(
                    rng, moment, "user.session.start", actor, client, message="User login to Okta"
                ),
            )
        for _ in range(min(ctx.count(0.6), 2)):
            moment = ctx.moment(low, high)
            yield (
                moment,
                records.okta(
                    rng,
                    moment,
                    "user.authentication.sso",
                    actor,
                    client,
                    message="User single sign on to app",
                ),
            )


def app_json_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield application logins, reads, small exports and service-to-service decisions."""
    for user, day, low, high in ctx.at_work():
        yield from _app_user(ctx, user, day, low, high)
    yield from _app_services(ctx)


def _app_user(
    ctx: HourContext, user: User, day: WorkDay, low: datetime, high: datetime
) -> Iterator[TimedLine]:
    rng = ctx.rng
    source = {"ip": day.ip, "user_agent": records.BROWSER_AGENT}
    events: list[tuple[datetime, str, str, str, dict[str, object]]] = []
    login_at = day.start + timedelta(seconds=30)
    if _starts_here(ctx, login_at):
        if rng.random() < 0.02:
            events.append(
                (
                    login_at - timedelta(seconds=25),
                    "authentication",
                    "login",
                    "failure",
                    {"auth": {"method": "password"}, "reason": "invalid password"},
                )
            )
        auth = {"method": "password", "mfa": True, "mfa_method": "push"}
        events.append((login_at, "authentication", "login", "success", {"auth": auth}))
    for _ in range(ctx.count(2.0)):
        records_read = rng.randint(1, 200)
        data = {
            "resource": rng.choice(_APP_RESOURCES),
            "records": records_read,
            "bytes": records_read * rng.randint(400, 1200),
        }
        events.append((ctx.moment(low, high), "data_access", "read", "success", {"data": data}))
    export_rate = 0.25 if user.role == "analyst" else 0.02
    for _ in range(ctx.count(export_rate)):
        size = rng.randint(200_000, 4_000_000)
        data = {"resource": rng.choice(_APP_RESOURCES), "records": size // 900, "bytes": size}
        events.append((ctx.moment(low, high), "data_access", "export", "success", {"data": data}))
    for _ in range(ctx.count(0.05)):
        decision = {"permission": "invoice:approve", "allowed": False, "policy": "rbac-default"}
        events.append(
            (
                ctx.moment(low, high),
                "authorization",
                "access_decision",
                "failure",
                {"decision": decision},
            )
        )
    for moment, kind, action, outcome, extra in events:
        host = rng.choice(APP_HOSTS)
        if ctx.overrides.is_silenced("app_json", host, moment):
            continue
        yield (
            moment,
            records.app_event(
                rng,
                moment,
                kind,
                action,
                outcome,
                user.email,
                source=source,
                service=APP_SERVICE,
                host=host,
                **extra,
            ),
        )


def host_step_minutes(scale: float) -> int:
    """Return the minutes between service records per app host: 1 at scale 1 or more."""
    if scale >= 1:
        return 1
    return min(10, max(1, round(1 / scale)))


def _app_services(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield service-account permission checks: every app host writes at least one per step."""
    rng = ctx.rng
    step = host_step_minutes(ctx.scale)
    for host in APP_HOSTS:
        for step_start in ctx.minute_steps(step):
            if ctx.overrides.is_silenced("app_json", host, step_start):
                continue
            for _ in range(max(1, ctx.count(float(step)))):
                moment = ctx.moment(step_start, step_start + timedelta(minutes=step))
                account = rng.choice(APP_SERVICE_ACCOUNTS)
                decision = {
                    "permission": f"{account.removeprefix('svc-')}:read",
                    "allowed": True,
                    "policy": "service-mesh",
                }
                yield (
                    moment,
                    records.app_event(
                        rng,
                        moment,
                        "authorization",
                        "access_decision",
                        "success",
                        account,
                        source={"ip": SERVER_ADDRESSES[rng.choice(SERVER_HOSTS)]},
                        decision=decision,
                        service=APP_SERVICE,
                        host=host,
                    ),
                )


def cloudtrail_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield console sign-ins and read calls of engineers, analysts' S3 reads,
    monitoring calls every five minutes and deployments."""
    rng = ctx.rng
    for user, day, low, high in ctx.at_work():
        identity = records.iam_user_identity(user.email)
        if user.uses_aws:
            yield from _console_login(ctx, user, day)
            for _ in range(ctx.count(6.0)):
                name, service = rng.choice(_READ_CALLS)
                moment = ctx.moment(low, high)
                yield moment, records.cloudtrail(rng, moment, name, service, identity, day.ip)
        if user.role == "analyst":
            for _ in range(ctx.count(0.8)):
                moment = ctx.moment(low, high)
                yield moment, _get_object(ctx, moment, identity, day.ip)
    yield from _monitoring_calls(ctx)
    yield from _deploy_calls(ctx)


def _console_login(ctx: HourContext, user: User, day: WorkDay) -> Iterator[TimedLine]:
    moment = day.start + timedelta(minutes=7)
    if _starts_here(ctx, moment):
        yield (
            moment,
            records.cloudtrail(
                ctx.rng,
                moment,
                "ConsoleLogin",
                "signin.amazonaws.com",
                records.iam_user_identity(user.email),
                day.ip,
                response={"ConsoleLogin": "Success"},
                additional={
                    "LoginTo": "https://console.aws.amazon.com/",
                    "MobileVersion": "No",
                    "MFAUsed": "Yes",
                },
                user_agent=records.BROWSER_AGENT,
            ),
        )


def _get_object(
    ctx: HourContext, moment: datetime, identity: records.JsonObject, address: str
) -> str:
    rng = ctx.rng
    key = f"reports/{rng.choice(_APP_RESOURCES)}/{rng.getrandbits(32):08x}.csv"
    return records.cloudtrail(
        rng,
        moment,
        "GetObject",
        "s3.amazonaws.com",
        identity,
        address,
        request={"bucketName": ANALYTICS_BUCKET, "key": key},
        additional={"bytesTransferredIn": 0, "bytesTransferredOut": rng.randint(50_000, 3_000_000)},
    )


def _monitoring_calls(ctx: HourContext) -> Iterator[TimedLine]:
    identity = records.assumed_role_identity("svc-monitoring", "collector")
    for step in ctx.minute_steps(5):
        for _ in range(ctx.count(1.0)):
            moment = ctx.moment(step, step + timedelta(minutes=5))
            yield (
                moment,
                records.cloudtrail(
                    ctx.rng,
                    moment,
                    "DescribeInstances",
                    "ec2.amazonaws.com",
                    identity,
                    "monitoring.amazonaws.com",
                    user_agent="monitoring.amazonaws.com",
                ),
            )


def _deploy_calls(ctx: HourContext) -> Iterator[TimedLine]:
    identity = records.assumed_role_identity("svc-deploy", "github-actions")
    for moment in deploy_times(ctx):
        if not _starts_here(ctx, moment):
            continue
        service = ctx.rng.choice(("shop-web", "payments-api", "orders-service"))
        yield (
            moment,
            records.cloudtrail(
                ctx.rng,
                moment,
                "RegisterTaskDefinition",
                "ecs.amazonaws.com",
                identity,
                _CI_RUNNER,
                request={"family": service},
            ),
        )
        later = moment + timedelta(seconds=12)
        yield (
            later,
            records.cloudtrail(
                ctx.rng,
                later,
                "UpdateService",
                "ecs.amazonaws.com",
                identity,
                _CI_RUNNER,
                request={"cluster": "production", "service": service},
            ),
        )


def github_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield pushes and CI runs of engineers, and the deployment workflow runs."""
    rng = ctx.rng
    for user, day, low, high in ctx.at_work():
        if not user.uses_aws:
            continue
        for _ in range(ctx.count(0.8)):
            moment = ctx.moment(low, high)
            repo = f"{GITHUB_ORG}/{rng.choice(REPOSITORIES)}"
            yield (
                moment,
                records.github_audit(rng, moment, "git.push", user.github, day.country, repo=repo),
            )
            finished = moment + timedelta(seconds=rng.randint(60, 400))
            if finished < ctx.end:
                yield (
                    finished,
                    records.github_audit(
                        rng,
                        finished,
                        "workflows.completed_workflow_run",
                        user.github,
                        day.country,
                        repo=repo,
                        name="ci",
                        conclusion=rng.choice(("success",) * 9 + ("failure",)),
                    ),
                )
    for moment in deploy_times(ctx):
        if _starts_here(ctx, moment):
            yield (
                moment,
                records.github_audit(
                    rng,
                    moment,
                    "workflows.completed_workflow_run",
                    "deploy-bot",
                    "DE",
                    repo=f"{GITHUB_ORG}/infra",
                    name="deploy-production",
                    conclusion="success",
                ),
            )


def openvpn_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield a VPN connection at the start and a disconnect at the end of each work day."""
    rng = ctx.rng
    for user, day, _, _ in ctx.at_work():
        port = 40000 + (user.index * 97 + ctx.day * 13) % 20000
        peer = f"{day.ip}:{port}"
        if _starts_here(ctx, day.start):
            yield from _vpn_connect(ctx, user, day.start - timedelta(seconds=90), peer)
        end = day.end - timedelta(seconds=rng.randint(5, 120))
        if _starts_here(ctx, end):
            yield (
                end,
                lines.openvpn(
                    end,
                    ctx.zone,
                    VPN_HOST,
                    f"{user.email}/{peer} SIGTERM[soft,remote-exit] received, "
                    "client-instance exiting",
                ),
            )


def _vpn_connect(ctx: HourContext, user: User, moment: datetime, peer: str) -> Iterator[TimedLine]:
    zone = ctx.zone
    if ctx.rng.random() < 0.02:
        failed = moment - timedelta(seconds=40)
        text = f"{peer} TLS Auth Error: Auth Username/Password verification failed for peer"
        yield failed, lines.openvpn(failed, zone, VPN_HOST, text)
    address = vpn_address(user)
    messages = (
        f"{peer} TLS: Initial packet from [AF_INET]{peer}, sid=5a1b2c3d 4e5f6a7b",
        f"{peer} [{user.email}] Peer Connection Initiated with [AF_INET]{peer}",
        f"{user.email}/{peer} MULTI_sva: pool returned IPv4={address}, IPv6=(Not enabled)",
        f"{user.email}/{peer} MULTI: Learn: {address} -> {user.email}/{peer}",
    )
    for offset, text in enumerate(messages):
        step = moment + timedelta(seconds=offset)
        yield step, lines.openvpn(step, zone, VPN_HOST, text)


def openssh_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield SSH sessions of engineers over the VPN and deployment logins from CI."""
    rng = ctx.rng
    for user, _, low, high in ctx.at_work():
        if not user.uses_aws:
            continue
        for _ in range(ctx.count(0.4)):
            if (high - low).total_seconds() < 180:
                continue
            start = ctx.moment(low, high - timedelta(seconds=120))
            host = rng.choice(SERVER_HOSTS)
            yield from ssh_session(ctx, host, user.login, vpn_address(user), start, high)
    for moment in deploy_times(ctx):
        if _starts_here(ctx, moment):
            for host in APP_HOSTS:
                yield from ssh_session(ctx, host, "deploy", _CI_RUNNER, moment, ctx.end)


def ssh_session(
    ctx: HourContext, host: str, login: str, address: str, start: datetime, limit: datetime
) -> Iterator[TimedLine]:
    """Yield the sshd lines of one public-key session that ends before `limit`."""
    rng = ctx.rng
    pid = rng.randint(2000, 60000)
    port = rng.randint(40000, 65000)
    key = f"ED25519 SHA256:{rng.getrandbits(192):048x}"[:60]
    end = min(limit - timedelta(seconds=1), start + timedelta(minutes=rng.randint(2, 45)))
    if rng.random() < 0.01:
        failed = start - timedelta(seconds=6)
        yield (
            failed,
            lines.sshd(
                failed,
                ctx.zone,
                host,
                pid,
                f"Failed password for {login} from {address} port {port} ssh2",
            ),
        )
    for moment, text in (
        (start, f"Accepted publickey for {login} from {address} port {port} ssh2: {key}"),
        (start, f"pam_unix(sshd:session): session opened for user {login}(uid=1001) by (uid=0)"),
        (end, f"Received disconnect from {address} port {port}:11: disconnected by user"),
        (end, f"pam_unix(sshd:session): session closed for user {login}"),
    ):
        yield moment, lines.sshd(moment, ctx.zone, host, pid, text)
