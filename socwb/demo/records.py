"""Builders of raw vendor records, one function per format, each returning one line.

The shapes follow the vendors' documented exports as far as the normalizers in
`socwb.ingest.formats` read them: AWS CloudTrail records, Okta System Log events,
the `socwb.app/1` schema, GitHub audit log events, AWS WAF web ACL logs,
CrowdStrike FDR and streaming API events, and Trivy schema 2 reports.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime
from typing import Any

from socwb.demo.world import (
    AWS_ACCOUNT,
    COUNTRY_NAMES,
    GITHUB_ORG,
    random_uuid,
    stable_id,
)

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]

BROWSER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
)
CLI_AGENT = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22"
AWS_REGION = "eu-central-1"


def dump(record: JsonObject) -> str:
    """Serialize a record as one compact JSON line with keys in insertion order."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def iso_ms(moment: datetime) -> str:
    """Format a time as ISO 8601 UTC with milliseconds (`2025-03-03T09:12:44.123Z`)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso_seconds(moment: datetime) -> str:
    """Format a time as ISO 8601 UTC without fractions, as CloudTrail does."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(moment: datetime) -> int:
    """Return milliseconds since the Unix epoch."""
    return int(moment.timestamp() * 1000)


def iam_user_identity(name: str) -> JsonObject:
    """Return the CloudTrail `userIdentity` of an IAM user."""
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{stable_id('iam-user', name)}",
        "arn": f"arn:aws:iam::{AWS_ACCOUNT}:user/{name}",
        "accountId": AWS_ACCOUNT,
        "accessKeyId": f"ASIA{stable_id('key', name)}",
        "userName": name,
    }


def assumed_role_identity(role: str, session: str) -> JsonObject:
    """Return the CloudTrail `userIdentity` of a service using an IAM role."""
    role_id = f"AROA{stable_id('role', role)}"
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": AWS_ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{AWS_ACCOUNT}:role/{role}",
                "accountId": AWS_ACCOUNT,
                "userName": role,
            }
        },
    }


def cloudtrail(
    rng: random.Random,
    moment: datetime,
    event_name: str,
    event_source: str,
    identity: JsonObject,
    source_ip: str,
    *,
    request: JsonObject | None = None,
    response: JsonObject | None = None,
    additional: JsonObject | None = None,
    user_agent: str = CLI_AGENT,
) -> str:
    """Return one CloudTrail record as an NDJSON line."""
    record: JsonObject = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": iso_seconds(moment),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": "us-east-1" if event_source == "iam.amazonaws.com" else AWS_REGION,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": request,
        "responseElements": response,
        "requestID": random_uuid(rng),
        "eventID": random_uuid(rng),
        "readOnly": event_name.startswith(("Get", "List", "Describe")),
        "eventType": "AwsConsoleSignIn" if event_name == "ConsoleLogin" else "AwsApiCall",
        "managementEvent": event_name != "GetObject",
        "recipientAccountId": AWS_ACCOUNT,
    }
    if additional is not None:
        record["additionalEventData"] = additional
    return dump(record)


def okta(
    rng: random.Random,
    moment: datetime,
    event_type: str,
    actor: tuple[str, str],
    client: tuple[str, str],
    *,
    result: str = "SUCCESS",
    reason: str | None = None,
    message: str = "",
    targets: list[JsonObject] | None = None,
) -> str:
    """Return one Okta System Log event.

    Args:
        actor: The actor's login and display name.
        client: The client address and its ISO country code.
    """
    login, display_name = actor
    address, country = client
    record: JsonObject = {
        "uuid": random_uuid(rng),
        "published": iso_ms(moment),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO" if result == "SUCCESS" else "WARN",
        "displayMessage": message,
        "actor": {
            "id": f"00u{stable_id('okta', login, length=17).lower()}",
            "type": "User",
            "alternateId": login,
            "displayName": display_name,
        },
        "client": {
            "userAgent": {"rawUserAgent": BROWSER_AGENT, "os": "Windows 10", "browser": "CHROME"},
            "geographicalContext": {"country": COUNTRY_NAMES.get(country, country)},
            "ipAddress": address,
            "device": "Computer",
        },
        "outcome": {"result": result, "reason": reason},
        "target": targets or [],
    }
    return dump(record)


def okta_user_target(login: str, display_name: str) -> JsonObject:
    """Return an Okta `target` entry for a user."""
    return {
        "id": f"00u{stable_id('okta', login, length=17).lower()}",
        "type": "User",
        "alternateId": login,
        "displayName": display_name,
    }


def okta_group_target(name: str) -> JsonObject:
    """Return an Okta `target` entry for a group."""
    return {
        "id": f"00g{stable_id('okta-group', name, length=17).lower()}",
        "type": "UserGroup",
        "alternateId": name,
        "displayName": name,
    }


def app_event(
    rng: random.Random,
    moment: datetime,
    kind: str,
    action: str,
    outcome: str,
    actor: str,
    **optional: Any,
) -> str:
    """Return one `socwb.app/1` event; `optional` adds the schema's optional objects."""
    record: JsonObject = {
        "schema": "socwb.app/1",
        "timestamp": iso_ms(moment),
        "event_id": random_uuid(rng),
        "type": kind,
        "action": action,
        "outcome": outcome,
        "actor": {"name": actor},
    }
    record.update({key: value for key, value in optional.items() if value is not None})
    return dump(record)


def github_audit(
    rng: random.Random,
    moment: datetime,
    action: str,
    actor: str,
    country: str,
    **optional: Any,
) -> str:
    """Return one GitHub organization audit log event (streaming export shape)."""
    record: JsonObject = {
        "@timestamp": epoch_ms(moment),
        "_document_id": f"{rng.getrandbits(128):032x}"[:22],
        "action": action,
        "actor": actor,
        "actor_location": {"country_code": country},
        "created_at": epoch_ms(moment),
        "org": GITHUB_ORG,
    }
    record.update({key: value for key, value in optional.items() if value is not None})
    return dump(record)


def aws_waf(
    rng: random.Random,
    moment: datetime,
    client: tuple[str, str],
    method: str,
    uri: str,
    *,
    action: str = "ALLOW",
    rule: tuple[str, str] = ("Default_Action", "REGULAR"),
) -> str:
    """Return one AWS WAF v2 web ACL log record.

    Args:
        client: Client address and its ISO country code.
        rule: Terminating rule id and type (`REGULAR`, `MANAGED_RULE_GROUP`, `RATE_BASED`).
    """
    address, country = client
    record: JsonObject = {
        "timestamp": epoch_ms(moment),
        "formatVersion": 1,
        "webaclId": (
            f"arn:aws:wafv2:{AWS_REGION}:{AWS_ACCOUNT}:regional/webacl/shop-web/"
            "3f6a1c2e-8b4d-4e1f-9a7c-5d2b0e9f1a3c"
        ),
        "terminatingRuleId": rule[0],
        "terminatingRuleType": rule[1],
        "action": action,
        "httpSourceName": "ALB",
        "httpSourceId": f"{AWS_ACCOUNT}-app/shop-alb/5e1f0c2a9b3d4f67",
        "httpRequest": {
            "clientIp": address,
            "country": country,
            "uri": uri,
            "args": "",
            "httpVersion": "HTTP/2.0",
            "httpMethod": method,
            "requestId": f"1-{int(moment.timestamp()):08x}-{rng.getrandbits(96):024x}",
        },
    }
    return dump(record)


def crowdstrike_process(
    rng: random.Random,
    moment: datetime,
    host: str,
    user: str,
    image: str,
    command_line: str,
    parent: str,
    platform: str,
    *,
    sha256: str | None = None,
) -> str:
    """Return one Falcon Data Replicator `ProcessRollup2` event.

    The image hash is derived from the image path unless `sha256` is given.
    """
    image_hash = sha256 or stable_id("image", image, length=64).lower()
    record: JsonObject = {
        "aid": stable_id("aid", host, length=32).lower(),
        "cid": stable_id("cid", "example-corp", length=32).lower(),
        "event_simpleName": "ProcessRollup2",
        "event_platform": platform,
        "id": random_uuid(rng),
        "name": "ProcessRollup2V19",
        "timestamp": iso_ms(moment),
        "ComputerName": host,
        "UserName": user,
        "ImageFileName": image,
        "CommandLine": command_line,
        "ParentBaseFileName": parent,
        "RawProcessId": str(rng.randint(300, 65000)),
        "TargetProcessId": str(rng.getrandbits(36)),
        "ParentProcessId": str(rng.getrandbits(36)),
        "SHA256HashData": image_hash,
    }
    return dump(record)


def crowdstrike_detection(
    rng: random.Random,
    moment: datetime,
    host: str,
    user: str,
    file_path: str,
    sha256: str,
    command_line: str,
) -> str:
    """Return one Falcon streaming API `EppDetectionSummaryEvent`."""
    directory, _, file_name = file_path.rpartition("\\")
    created = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f000")
    record: JsonObject = {
        "metadata": {
            "customerIDString": stable_id("cid", "example-corp", length=32).lower(),
            "offset": rng.randint(100_000, 9_999_999),
            "eventType": "EppDetectionSummaryEvent",
            "eventCreationTime": created,
            "version": "1.0",
        },
        "event": {
            "Name": "Known Malware",
            "Description": "A file written to disk matches a known malware hash.",
            "Severity": 70,
            "SeverityName": "High",
            "Objective": "Falcon Detection Method",
            "Tactic": "Malware",
            "Technique": "Malicious File",
            "Hostname": host,
            "UserName": user,
            "FileName": file_name,
            "FilePath": directory,
            "CommandLine": command_line,
            "ParentImageFileName": "explorer.exe",
            "SHA256String": sha256,
            "MD5String": stable_id("md5", sha256, length=32).lower(),
            "PatternDispositionDescription": "Prevention, file quarantined.",
        },
    }
    return dump(record)


def trivy_vulnerability(
    vulnerability_id: str,
    package: tuple[str, str, str],
    severity: str,
    score: float,
    title: str,
) -> JsonObject:
    """Return one entry of a Trivy report's `Vulnerabilities` list.

    Args:
        package: Package name, installed version and fixed version.
    """
    name, installed, fixed = package
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    return {
        "VulnerabilityID": vulnerability_id,
        "PkgName": name,
        "InstalledVersion": installed,
        "FixedVersion": fixed,
        "Severity": severity,
        "Title": title,
        "PrimaryURL": f"https://avd.aquasec.com/nvd/{vulnerability_id.lower()}",
        "CVSS": {"nvd": {"V3Vector": vector, "V3Score": score}},
    }


def trivy_report(
    moment: datetime,
    image: str,
    results: list[tuple[str, str, list[JsonObject]]],
) -> str:
    """Return a Trivy schema 2 JSON report of a container image scan.

    Args:
        results: Target, package type (`debian`, `jar`, ...) and vulnerabilities per target.
    """
    report: JsonObject = {
        "SchemaVersion": 2,
        "CreatedAt": iso_ms(moment),
        "ArtifactName": image,
        "ArtifactType": "container_image",
        "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}},
        "Results": [
            {
                "Target": target,
                "Class": "os-pkgs" if kind == "debian" else "lang-pkgs",
                "Type": kind,
                "Vulnerabilities": vulnerabilities,
            }
            for target, kind, vulnerabilities in results
        ],
    }
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
