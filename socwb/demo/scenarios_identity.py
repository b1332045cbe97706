"""Planted identity scenarios: failed-login bursts, spraying, MFA fatigue, new and
impossible locations, login and export volume, and administrators at night."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from socwb.demo import lines, records
from socwb.demo.planting import Builder, ScenarioDays
from socwb.demo.world import (
    COUNTRY_NAMES,
    DB_HOSTS,
    TRAVEL_COUNTRY,
    TRAVELLER_INDEX,
    User,
    country_ip,
    travel_ip,
    vpn_address,
)

logger = logging.getLogger(__name__)

_APP = ("app", "app_json")
_OKTA = ("idp", "okta")
_PLANTED_APP_HOST = "web-02"


def _actor(user: User) -> tuple[str, str]:
    return user.email, user.display_name


def plant_identity(builder: Builder, days: ScenarioDays) -> None:
    """Plant every identity scenario on its day."""
    first, second, third, fourth, _ = days.weekdays
    _failure_spike(builder, first)
    _privileged_at_night_aws(builder, first)
    _straddling_failure_spike(builder, second)
    _password_spraying(builder, second)
    _new_location(builder, third)
    _failures_then_success(builder, third)
    _data_export(builder, third)
    _mfa_fatigue(builder, fourth)
    _impossible_travel(builder, fourth)
    _auth_volume(builder, fourth)
    _privileged_at_night_ssh(builder, days.sunday)


def _okta_failure(builder: Builder, user: User, moment: datetime, client: tuple[str, str]) -> None:
    rng = builder.rng(f"okta-failure/{user.index}/{moment.isoformat()}")
    builder.add(
        "okta",
        moment,
        records.okta(
            rng,
            moment,
            "user.session.start",
            _actor(user),
            client,
            result="FAILURE",
            reason="INVALID_CREDENTIALS",
            message="User login to Okta",
        ),
    )


def _failure_spike(builder: Builder, day: int) -> None:
    user = builder.users[20]
    rng = builder.rng("auth_failure_spike-1")
    address = country_ip("VN", rng)
    for number in range(13):
        moment = builder.at(day, 10, 14, 5 + number * 17.5)
        _okta_failure(builder, user, moment, (address, "VN"))
    builder.finish(
        "auth_failure_spike-1",
        user.email,
        _OKTA,
        f"13 failed Okta sign-ins for {user.email} from {address} (VN) within 3.5 minutes.",
    )


def _straddling_failure_spike(builder: Builder, day: int) -> None:
    user = builder.users[21]
    rng = builder.rng("auth_failure_spike-2")
    address = country_ip("BR", rng)
    offsets = [index * 22.0 for index in range(6)] + [120 + index * 22.5 for index in range(5)]
    for offset in offsets:
        moment = builder.at(day, 10, 3) + timedelta(seconds=offset)
        builder.add(
            "app_json",
            moment,
            records.app_event(
                rng,
                moment,
                "authentication",
                "login",
                "failure",
                user.email,
                source={"ip": address},
                auth={"method": "password"},
                reason="invalid password",
                service="shop-backoffice",
                host=_PLANTED_APP_HOST,
            ),
        )
    builder.finish(
        "auth_failure_spike-2",
        user.email,
        _APP,
        f"11 failed application logins for {user.email} from {address}: 6 from 10:03:00 to "
        "10:04:50 local time and 5 from 10:05:00 to 10:06:30, across a 5-minute boundary.",
        ("auth_volume_anomaly:" + user.email,),
    )


def _password_spraying(builder: Builder, day: int) -> None:
    rng = builder.rng("password_spraying-1")
    address = country_ip("RU", rng)
    targets = builder.users[30:48]
    for number, user in enumerate(targets):
        moment = builder.at(day, 4, 12, 3 + number * 15.0)
        _okta_failure(builder, user, moment, (address, "RU"))
    builder.finish(
        "password_spraying-1",
        address,
        _OKTA,
        f"{address} (RU) fails one Okta sign-in for each of {len(targets)} users in 4.5 minutes.",
    )


def _failures_then_success(builder: Builder, day: int) -> None:
    user = builder.users[25]
    rng = builder.rng("failures_then_success-1")
    address = country_ip(user.country, rng)
    for number in range(8):
        moment = builder.at(day, 9, 30, 10 + number * 45.0)
        _okta_failure(builder, user, moment, (address, user.country))
    moment = builder.at(day, 9, 37, 5)
    builder.add(
        "okta",
        moment,
        records.okta(
            rng,
            moment,
            "user.session.start",
            _actor(user),
            (address, user.country),
            message="User login to Okta",
        ),
    )
    builder.finish(
        "failures_then_success-1",
        user.email,
        _OKTA,
        f"8 failed Okta sign-ins for {user.email} from {address}, then a successful one.",
        ("auth_volume_anomaly:" + user.email,),
    )


def _mfa_fatigue(builder: Builder, day: int) -> None:
    user = builder.users[26]
    rng = builder.rng("mfa_push_fatigue-1")
    client = (country_ip(user.country, rng), user.country)
    for number in range(10):
        moment = builder.at(day, 22, 10, 4 + number * 80.0)
        if number % 5 == 4:
            text = records.okta(
                rng,
                moment,
                "user.authentication.auth_via_mfa",
                _actor(user),
                client,
                result="FAILURE",
                reason="VERIFICATION_TIMEOUT",
                message="Okta Verify push timed out",
            )
        else:
            text = records.okta(
                rng,
                moment,
                "user.mfa.okta_verify.deny_push",
                _actor(user),
                client,
                result="FAILURE",
                reason="INVALID_CREDENTIALS",
                message="User rejected Okta push",
            )
        builder.add("okta", moment, text)
    accepted = builder.at(day, 22, 23, 40)
    builder.add(
        "okta",
        accepted,
        records.okta(
            rng,
            accepted,
            "user.authentication.auth_via_mfa",
            _actor(user),
            client,
            message="Authentication of user via MFA",
        ),
    )
    started = accepted + timedelta(seconds=5)
    builder.add(
        "okta",
        started,
        records.okta(
            rng, started, "user.session.start", _actor(user), client, message="User login to Okta"
        ),
    )
    builder.finish(
        "mfa_push_fatigue-1",
        user.email,
        _OKTA,
        f"{user.email} receives 10 Okta Verify pushes at night (8 denied, 2 timed out) from "
        f"{client[0]}, then accepts one and a session starts.",
        ("auth_volume_anomaly:" + user.email,),
    )


def _sign_in(builder: Builder, user: User, moment: datetime, client: tuple[str, str]) -> None:
    rng = builder.rng(f"sign-in/{user.index}/{moment.isoformat()}")
    builder.add(
        "okta",
        moment,
        records.okta(
            rng,
            moment,
            "user.authentication.auth_via_mfa",
            _actor(user),
            client,
            message="Authentication of user via MFA",
        ),
    )
    later = moment + timedelta(seconds=4)
    builder.add(
        "okta",
        later,
        records.okta(
            rng, later, "user.session.start", _actor(user), client, message="User login to Okta"
        ),
    )


def _new_location(builder: Builder, day: int) -> None:
    user = builder.users[22]
    country = "ES" if user.country != "ES" else "IT"
    address = country_ip(country, builder.rng("new_login_location-1"))
    builder.plan.overrides.absent.add((user.index, day))
    _sign_in(builder, user, builder.at(day, 11, 5, 12), (address, country))
    builder.finish(
        "new_login_location-1",
        user.email,
        _OKTA,
        f"{user.email}, who always signs in from {COUNTRY_NAMES[user.country]}, signs in to "
        f"Okta from {address} in {COUNTRY_NAMES[country]}. No other activity that day.",
    )


def _impossible_travel(builder: Builder, day: int) -> None:
    user = builder.users[TRAVELLER_INDEX]
    builder.plan.overrides.absent.add((user.index, day))
    travel_address = travel_ip(user)
    _sign_in(builder, user, builder.at(day, 9, 5, 30), (user.home_ip, user.country))
    _sign_in(builder, user, builder.at(day, 9, 41, 2), (travel_address, TRAVEL_COUNTRY))
    builder.finish(
        "impossible_travel-1",
        user.email,
        _OKTA,
        f"{user.email} signs in from {COUNTRY_NAMES[user.country]} ({user.home_ip}) and 36 "
        f"minutes later from {COUNTRY_NAMES[TRAVEL_COUNTRY]} ({travel_address}), about "
        "9,000 km apart. Both countries are in the user's history.",
    )


def _auth_volume(builder: Builder, day: int) -> None:
    user = builder.users[27]
    rng = builder.rng("auth_volume_anomaly-1")
    for number in range(40):
        moment = builder.at(day, 13, 0, 20 + number * 86.5)
        builder.add(
            "app_json",
            moment,
            records.app_event(
                rng,
                moment,
                "authentication",
                "login",
                "success",
                user.email,
                source={"ip": user.home_ip, "user_agent": "python-requests/2.31.0"},
                auth={"method": "password", "mfa": False},
                service="shop-backoffice",
                host=_PLANTED_APP_HOST,
            ),
        )
    builder.finish(
        "auth_volume_anomaly-1",
        user.email,
        _APP,
        f"A script logs in to the application as {user.email} 40 times in one hour; the usual "
        "volume is one or two logins a day.",
    )


def _data_export(builder: Builder, day: int) -> None:
    user = builder.users[17]
    rng = builder.rng("data_export_above_baseline-1")
    total = 0
    for number in range(5):
        moment = builder.at(day, 15, 5 + number * 11, rng.randint(0, 59))
        size = rng.randint(300_000_000, 350_000_000)
        total += size
        builder.add(
            "app_json",
            moment,
            records.app_event(
                rng,
                moment,
                "data_access",
                "export",
                "success",
                user.email,
                source={"ip": user.home_ip, "user_agent": records.BROWSER_AGENT},
                data={"resource": "customers", "records": size // 900, "bytes": size},
                service="shop-backoffice",
                host=_PLANTED_APP_HOST,
            ),
        )
    builder.finish(
        "data_export_above_baseline-1",
        user.email,
        _APP,
        f"{user.email} exports the customers table five times, {total / 1e9:.2f} GB in all; "
        "the usual daily export volume is a few megabytes.",
        ("egress_anomaly:shop-backoffice",),
    )


def _privileged_at_night_aws(builder: Builder, day: int) -> None:
    admin = builder.users[0]
    rng = builder.rng("privileged_off_hours-1")
    identity = records.iam_user_identity(admin.email)
    moment = builder.at(day, 3, 5, 14)
    builder.add(
        "aws_cloudtrail",
        moment,
        records.cloudtrail(
            rng,
            moment,
            "ConsoleLogin",
            "signin.amazonaws.com",
            identity,
            admin.home_ip,
            response={"ConsoleLogin": "Success"},
            additional={"MFAUsed": "Yes"},
            user_agent=records.BROWSER_AGENT,
        ),
    )
    calls = (
        "ListUsers",
        "ListAccessKeys",
        "GetAccountAuthorizationDetails",
        "ListRoles",
        "DescribeInstances",
        "DescribeSecurityGroups",
        "ListBuckets",
        "GetBucketPolicy",
    )
    for number, name in enumerate(calls):
        moment = builder.at(day, 3, 7 + number * 2, rng.randint(0, 59))
        service = {"Describe": "ec2", "ListB": "s3", "GetB": "s3"}
        source = next(
            (f"{value}.amazonaws.com" for key, value in service.items() if name.startswith(key)),
            "iam.amazonaws.com",
        )
        builder.add(
            "aws_cloudtrail",
            moment,
            records.cloudtrail(
                rng, moment, name, source, identity, admin.home_ip, user_agent=records.BROWSER_AGENT
            ),
        )
    builder.finish(
        "privileged_off_hours-1",
        admin.email,
        ("cloud", "aws_cloudtrail"),
        f"Administrator {admin.email} signs in to the AWS console at 03:05 local time on a "
        "weekday and lists users, keys, roles and buckets.",
    )


def _privileged_at_night_ssh(builder: Builder, day: int) -> None:
    admin = builder.users[1]
    rng = builder.rng("privileged_off_hours-2")
    host = DB_HOSTS[0]
    address = vpn_address(admin)
    pid = rng.randint(2000, 60000)
    port = rng.randint(40000, 65000)
    start = builder.at(day, 3, 10, 41)
    end = start + timedelta(minutes=17, seconds=12)
    zone = builder.calendar.zone
    for moment, text in (
        (
            start,
            f"Accepted publickey for {admin.login} from {address} port {port} ssh2: "
            "ED25519 SHA256:4f1c0d9e2b7a",
        ),
        (
            start,
            f"pam_unix(sshd:session): session opened for user {admin.login}(uid=1001) by (uid=0)",
        ),
        (end, f"Received disconnect from {address} port {port}:11: disconnected by user"),
        (end, f"pam_unix(sshd:session): session closed for user {admin.login}"),
    ):
        builder.add("openssh", moment, lines.sshd(moment, zone, host, pid, text))
    builder.finish(
        "privileged_off_hours-2",
        admin.login,
        ("network", "openssh"),
        f"Administrator {admin.login} opens an SSH session on {host} at 03:10 local time on a "
        "Sunday.",
    )
