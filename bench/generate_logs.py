"""Deterministic synthetic logs for the ingest benchmark: CloudTrail NDJSON and sshd auth.log.

The same seed and count always produce the same bytes, so runs compare like with like.
Every record is distinct (times, ids, ports advance), so no record is a duplicate of
another one.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2024, 3, 1, tzinfo=UTC)
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]
ACCOUNT = "123456789012"

# (eventSource, eventName, share): read-heavy, like real trails.
CLOUDTRAIL_CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances", 30),
    ("s3.amazonaws.com", "GetObject", 25),
    ("sts.amazonaws.com", "AssumeRole", 15),
    ("iam.amazonaws.com", "ListRoles", 10),
    ("signin.amazonaws.com", "ConsoleLogin", 8),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 5),
    ("iam.amazonaws.com", "AttachUserPolicy", 4),
    ("kms.amazonaws.com", "Decrypt", 3),
]


ADDRESS_POOL_SIZE = 5000
"""Distinct client addresses. Real trails and auth logs repeat a limited set of
addresses (offices, scanners), so records draw from a pool instead of all of IPv4."""


def _address_pool(seed: int) -> list[str]:
    # Documentation ranges such as 203.0.113.0/24 have no country, so draw from
    # ordinary unicast space to exercise the geo lookup as real logs do.
    rng = random.Random(seed)
    pool = []
    for _ in range(ADDRESS_POOL_SIZE):
        first = rng.choice([23, 45, 81, 91, 104, 151, 185])
        pool.append(f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
    return pool


def cloudtrail_records(count: int, seed: int = 1) -> Iterator[dict[str, object]]:
    """Yield `count` CloudTrail records, one per 50 ms of simulated time."""
    rng = random.Random(seed)
    addresses = _address_pool(seed)
    names = [call for call in CLOUDTRAIL_CALLS for _ in range(call[2])]
    for number in range(count):
        source, name, _share = rng.choice(names)
        user = rng.choice(USERS)
        moment = START + timedelta(milliseconds=50 * number)
        record: dict[str, object] = {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": f"AIDA{user.upper():0<16}",
                "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
                "accountId": ACCOUNT,
                "accessKeyId": f"AKIA{rng.randrange(16**12):012X}",
                "userName": user,
            },
            "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source,
            "eventName": name,
            "awsRegion": rng.choice(REGIONS),
            "sourceIPAddress": rng.choice(addresses),
            "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
            "requestParameters": _request_parameters(name, rng),
            "responseElements": None,
            "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
            "readOnly": name.startswith(("Describe", "Get", "List")),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
        }
        if name == "ConsoleLogin":
            record["eventType"] = "AwsConsoleSignIn"
            record["responseElements"] = {"ConsoleLogin": rng.choice(["Success", "Failure"])}
            record["additionalEventData"] = {"MFAUsed": rng.choice(["Yes", "No"])}
        yield record


def _request_parameters(name: str, rng: random.Random) -> dict[str, object] | None:
    if name == "GetObject":
        return {"bucketName": "finance-reports", "key": f"2024/q1/report-{rng.randrange(1000)}.csv"}
    if name == "AttachUserPolicy":
        return {
            "userName": rng.choice(USERS),
            "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        }
    if name == "AuthorizeSecurityGroupIngress":
        return {
            "groupId": f"sg-{rng.randrange(16**8):08x}",
            "ipPermissions": {
                "items": [
                    {
                        "ipProtocol": "tcp",
                        "fromPort": 22,
                        "toPort": 22,
                        "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]},
                    }
                ]
            },
        }
    if name == "DescribeInstances":
        return {"instancesSet": {"items": [{"instanceId": f"i-{rng.randrange(16**12):012x}"}]}}
    return None


SSHD_TEMPLATES = [
    (30, "Failed password for {user} from {ip} port {port} ssh2"),
    (25, "Received disconnect from {ip}: 11: Bye Bye [preauth]"),
    (
        20,
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
        "ruser= rhost={ip} user={user}",
    ),
    (10, "Invalid user {user} from {ip}"),
    (8, "Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:abc{port}"),
    (5, "Connection closed by {ip} [preauth]"),
    (2, "Did not receive identification string from {ip}"),
]


def sshd_lines(count: int, seed: int = 2) -> Iterator[str]:
    """Yield `count` RFC 3164 sshd lines, one per 20 ms of simulated time, within 2024."""
    rng = random.Random(seed)
    addresses = _address_pool(seed)
    templates = [text for weight, text in SSHD_TEMPLATES for _ in range(weight)]
    for number in range(count):
        moment = START + timedelta(milliseconds=20 * number)
        message = rng.choice(templates).format(
            user=rng.choice([*USERS, "root", "admin", "oracle"]),
            ip=rng.choice(addresses),
            port=rng.randrange(1024, 65536),
        )
        stamp = f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S}"
        yield f"{stamp} bastion-{number % 4} sshd[{10000 + number % 50000}]: {message}"


def write_cloudtrail(path: Path, count: int) -> Path:
    """Write `count` CloudTrail records to `path` as NDJSON."""
    with path.open("w", encoding="utf-8") as stream:
        for record in cloudtrail_records(count):
            stream.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path


def write_sshd(path: Path, count: int) -> Path:
    """Write `count` sshd lines to `path`."""
    with path.open("w", encoding="utf-8") as stream:
        for line in sshd_lines(count):
            stream.write(line + "\n")
    return path


def main() -> None:
    """Write both files into a folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--events", type=int, default=100_000)
    arguments = parser.parse_args()
    arguments.folder.mkdir(parents=True, exist_ok=True)
    write_cloudtrail(arguments.folder / "cloudtrail.ndjson", arguments.events)
    write_sshd(arguments.folder / "auth.log", arguments.events)


if __name__ == "__main__":
    main()
