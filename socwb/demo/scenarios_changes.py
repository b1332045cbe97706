"""Planted change and system scenarios: IAM and firewall changes, new administrators,
API volume, malware, a critical vulnerability, a silent host and metric anomalies."""

from __future__ import annotations

import logging
from datetime import timedelta

from socwb.demo import lines, records
from socwb.demo.context import Window
from socwb.demo.planting import Builder, PlantedDocument, ScenarioDays
from socwb.demo.scans import image_name
from socwb.demo.world import FIREWALL_HOST, GITHUB_ORG, vpn_address

logger = logging.getLogger(__name__)

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
_CLOUD = ("cloud", "aws_cloudtrail")
_ENUMERATION_CALLS = (
    ("ListBuckets", "s3.amazonaws.com"),
    ("GetBucketAcl", "s3.amazonaws.com"),
    ("ListUsers", "iam.amazonaws.com"),
    ("ListRoles", "iam.amazonaws.com"),
    ("DescribeInstances", "ec2.amazonaws.com"),
    ("DescribeSnapshots", "ec2.amazonaws.com"),
    ("ListSecrets", "secretsmanager.amazonaws.com"),
    ("DescribeDBInstances", "rds.amazonaws.com"),
    ("ListFunctions", "lambda.amazonaws.com"),
    ("DescribeKeyPairs", "ec2.amazonaws.com"),
)


def plant_changes(builder: Builder, days: ScenarioDays) -> None:
    """Plant every change and system scenario on its day."""
    first, second, third, fourth, fifth = days.weekdays
    _open_security_group(builder, first)
    _critical_vulnerability(builder, first)
    _cpu_spike(builder, first)
    _self_escalation(builder, second)
    _egress_spike(builder, second)
    _malware(builder, second)
    _silent_host(builder, third)
    _new_aws_admin(builder, third)
    _okta_admin_group(builder, fourth)
    _asa_rule_change(builder, fourth)
    _api_volume(builder, fifth)
    _github_owner(builder, fifth)


def _open_security_group(builder: Builder, day: int) -> None:
    user = builder.users[6]
    rng = builder.rng("firewall_rule_change-1")
    moment = builder.at(day, 11, 20, 31)
    permissions = {
        "items": [
            {
                "ipProtocol": "tcp",
                "fromPort": 22,
                "toPort": 22,
                "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
            }
        ]
    }
    request = {
        "groupId": "sg-0f1e2d3c4b5a69788",
        "groupName": "bastion-ssh",
        "ipPermissions": permissions,
    }
    builder.add(
        "aws_cloudtrail",
        moment,
        records.cloudtrail(
            rng,
            moment,
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            records.iam_user_identity(user.email),
            user.home_ip,
            request=request,
            response={"_return": True},
        ),
    )
    builder.finish(
        "firewall_rule_change-1",
        user.email,
        _CLOUD,
        f"{user.email} opens SSH (22/tcp) to 0.0.0.0/0 on security group sg-0f1e2d3c4b5a69788.",
    )


def _asa_rule_change(builder: Builder, day: int) -> None:
    admin = builder.users[3]
    address = vpn_address(admin)
    zone = builder.calendar.zone
    rule = "access-list outside_access_in extended permit tcp any host 10.0.2.20 eq 3389"
    messages = (
        (
            builder.at(day, 10, 20, 3),
            6,
            "605005",
            f'Login permitted from {address}/52211 to inside:10.0.0.1/ssh for user "{admin.login}"',
        ),
        (
            builder.at(day, 10, 21, 40),
            5,
            "111008",
            f"User '{admin.login}' executed the '{rule}' command.",
        ),
        (
            builder.at(day, 10, 21, 40),
            5,
            "111010",
            f"User '{admin.login}', running 'CLI' from IP {address}, executed '{rule}'",
        ),
        (
            builder.at(day, 10, 22, 15),
            5,
            "111008",
            f"User '{admin.login}' executed the 'write memory' command.",
        ),
    )
    for moment, level, code, text in messages:
        builder.add(
            "cisco_asa", moment, lines.cisco_asa(moment, zone, FIREWALL_HOST, level, code, text)
        )
    builder.finish(
        "firewall_rule_change-2",
        admin.login,
        ("network", "cisco_asa"),
        f"Network administrator {admin.login} adds an ASA access-list entry that permits RDP "
        "(3389/tcp) from any address to 10.0.2.20, and saves the configuration.",
    )


def _self_escalation(builder: Builder, day: int) -> None:
    user = builder.users[5]
    rng = builder.rng("iam_policy_change-1")
    identity = records.iam_user_identity(user.email)
    listed = builder.at(day, 15, 38, 12)
    builder.add(
        "aws_cloudtrail",
        listed,
        records.cloudtrail(
            rng,
            listed,
            "ListAttachedUserPolicies",
            "iam.amazonaws.com",
            identity,
            user.home_ip,
            request={"userName": user.email},
        ),
    )
    attached = builder.at(day, 15, 40, 3)
    builder.add(
        "aws_cloudtrail",
        attached,
        records.cloudtrail(
            rng,
            attached,
            "AttachUserPolicy",
            "iam.amazonaws.com",
            identity,
            user.home_ip,
            request={"userName": user.email, "policyArn": ADMIN_POLICY},
        ),
    )
    builder.finish(
        "iam_policy_change-1",
        user.email,
        _CLOUD,
        f"Engineer {user.email} attaches AdministratorAccess to their own IAM user.",
        (f"new_admin_account:{user.email}",),
    )


def _okta_admin_group(builder: Builder, day: int) -> None:
    admin = builder.users[2]
    target = builder.users[9]
    rng = builder.rng("iam_policy_change-2")
    moment = builder.at(day, 14, 30, 18)
    builder.add(
        "okta",
        moment,
        records.okta(
            rng,
            moment,
            "group.user_membership.add",
            (admin.email, admin.display_name),
            (admin.home_ip, admin.country),
            message="Add user to group membership",
            targets=[
                records.okta_user_target(target.email, target.display_name),
                records.okta_group_target("AWS-Administrators"),
            ],
        ),
    )
    builder.finish(
        "iam_policy_change-2",
        admin.email,
        ("idp", "okta"),
        f"Identity administrator {admin.email} adds {target.email} to the Okta group "
        "AWS-Administrators.",
        (f"new_admin_account:{target.email}",),
    )


def _new_aws_admin(builder: Builder, day: int) -> None:
    user = builder.users[8]
    rng = builder.rng("new_admin_account-1")
    identity = records.iam_user_identity(user.email)
    account = "support-tmp"
    steps = (
        (builder.at(day, 16, 10, 2), "CreateUser", {"userName": account}),
        (
            builder.at(day, 16, 11, 9),
            "CreateLoginProfile",
            {"userName": account, "passwordResetRequired": False},
        ),
        (
            builder.at(day, 16, 12, 30),
            "AttachUserPolicy",
            {"userName": account, "policyArn": ADMIN_POLICY},
        ),
    )
    for moment, name, request in steps:
        builder.add(
            "aws_cloudtrail",
            moment,
            records.cloudtrail(
                rng, moment, name, "iam.amazonaws.com", identity, user.home_ip, request=request
            ),
        )
    builder.finish(
        "new_admin_account-1",
        account,
        _CLOUD,
        f"{user.email} creates the IAM user {account}, gives it a console password and "
        "attaches AdministratorAccess two minutes later.",
        (f"iam_policy_change:{user.email}",),
    )


def _github_owner(builder: Builder, day: int) -> None:
    admin = builder.users[0]
    rng = builder.rng("new_admin_account-2")
    member = "ext-contractor-17"
    steps = (
        (builder.at(day, 11, 30, 5), "org.invite_member", {"user": member}),
        (builder.at(day, 11, 42, 51), "org.add_member", {"user": member, "permission": "read"}),
        (builder.at(day, 11, 43, 20), "org.update_member", {"user": member, "permission": "admin"}),
    )
    for moment, action, extra in steps:
        builder.add(
            "github_audit",
            moment,
            records.github_audit(rng, moment, action, admin.github, admin.country, **extra),
        )
    builder.finish(
        "new_admin_account-2",
        member,
        ("cicd", "github_audit"),
        f"{admin.github} invites {member} to the {GITHUB_ORG} organization and makes the new "
        "member an organization owner one minute after joining.",
        (f"iam_policy_change:{admin.github}",),
    )


def _api_volume(builder: Builder, day: int) -> None:
    user = builder.users[10]
    rng = builder.rng("api_volume_anomaly-1")
    identity = records.iam_user_identity(user.email)
    start = builder.at(day, 20, 0, 4)
    for number in range(600):
        moment = start + timedelta(seconds=int(number * 5.5))
        name, source = _ENUMERATION_CALLS[number % len(_ENUMERATION_CALLS)]
        builder.add(
            "aws_cloudtrail",
            moment,
            records.cloudtrail(rng, moment, name, source, identity, user.home_ip),
        )
    builder.finish(
        "api_volume_anomaly-1",
        user.email,
        _CLOUD,
        f"{user.email} makes 600 read calls (buckets, users, roles, snapshots, secrets) in 55 "
        "minutes in the evening; the usual volume is about six calls an hour.",
    )


def _malware(builder: Builder, day: int) -> None:
    user = builder.users[31]
    rng = builder.rng("malware_detected-1")
    sha256 = f"{rng.getrandbits(256):064x}"
    path = f"\\Device\\HarddiskVolume3\\Users\\{user.login}\\Downloads\\invoice_0425.pdf.exe"
    started = builder.at(day, 10, 46, 58)
    builder.add(
        "crowdstrike_fdr",
        started,
        records.crowdstrike_process(
            rng,
            started,
            user.laptop,
            user.login,
            path,
            f'"{path}"',
            "explorer.exe",
            "Win",
            sha256=sha256,
        ),
    )
    detected = builder.at(day, 10, 47, 3)
    builder.add(
        "crowdstrike_stream",
        detected,
        records.crowdstrike_detection(
            rng, detected, user.laptop, user.login, path, sha256, f'"{path}"'
        ),
    )
    builder.finish(
        "malware_detected-1",
        user.laptop,
        ("edr", "crowdstrike_stream"),
        f"Falcon detects and quarantines invoice_0425.pdf.exe (SHA-256 {sha256}) downloaded "
        f"by {user.login} on {user.laptop}.",
    )


def _critical_vulnerability(builder: Builder, day: int) -> None:
    image = image_name("payments-api", "2.14.1-hotfix")
    cve = "CVE-2021-44228"
    moment = builder.at(day, 14, 20, 9)
    findings = [
        records.trivy_vulnerability(
            cve,
            ("org.apache.logging.log4j:log4j-core", "2.14.1", "2.15.0"),
            "CRITICAL",
            10.0,
            "log4j-core: remote code execution via JNDI lookups (Log4Shell)",
        ),
        records.trivy_vulnerability(
            "CVE-2022-48303",
            ("tar", "1.34+dfsg-1.2", "1.34+dfsg-1.2+deb12u1"),
            "MEDIUM",
            5.5,
            "tar: heap buffer over-read",
        ),
    ]
    results = [
        ("Java", "jar", findings[:1]),
        (f"{image} (debian 12.5)", "debian", findings[1:]),
    ]
    text = records.trivy_report(moment, image, results)
    builder.plan.documents.append(PlantedDocument("trivy", "payments-api-hotfix", moment, text, 2))
    builder.mark(moment)
    builder.finish(
        "vulnerability_critical-1",
        f"{image}+{cve}",
        ("vulnscan", "trivy"),
        f"The CI scan of {image} finds {cve} (Log4Shell, CVSS 10.0) in log4j-core 2.14.1.",
    )


def _silent_host(builder: Builder, day: int) -> None:
    host = "web-03"
    start = builder.at(day, 13)
    end = builder.at(day, 16)
    builder.plan.overrides.silences.append(Window(f"app_json:{host}", start, end))
    builder.mark(start, end)
    builder.finish(
        "log_source_stopped-1",
        host,
        ("app", "app_json"),
        f"{host} writes no application events from 13:00 to 16:00 local time; it writes at "
        "least one a minute otherwise (every few minutes below scale 1). `start` and `end` "
        "are the bounds of the gap.",
    )


def _cpu_spike(builder: Builder, day: int) -> None:
    host = "worker-02"
    start = builder.at(day, 11)
    end = builder.at(day, 13, 30)
    builder.plan.overrides.cpu_levels.append(Window(host, start, end, 0.96))
    builder.mark(start, end - timedelta(minutes=5))
    builder.finish(
        "resource_anomaly-1",
        host,
        ("metrics", "host_metrics"),
        f"{host} reports 96% CPU from 11:00 to 13:30 local time, against a usual 10% to 35%.",
    )


def _egress_spike(builder: Builder, day: int) -> None:
    service = "report-export"
    start = builder.at(day, 14)
    end = builder.at(day, 16)
    builder.plan.overrides.egress_factors.append(Window(service, start, end, 6.0))
    builder.mark(start, end - timedelta(minutes=5))
    builder.finish(
        "egress_anomaly-1",
        service,
        ("metrics", "service_metrics"),
        f"The managed service {service} sends six times its usual egress from 14:00 to 16:00 "
        "local time.",
    )
