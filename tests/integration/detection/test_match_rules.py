"""IAM policy change and malware rules on events produced by the real normalizers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socwb.alerts.store import AlertWriteError
from socwb.detection import Detector
from socwb.rules.catalog import IAM_POLICY_CHANGE, MALWARE_DETECTED, NEW_ADMIN_ACCOUNT
from socwb.rules.model import iso
from socwb.search import SearchBackend

from .conftest import index_events, normalize, stored_alerts

MakeDetector = Callable[..., Detector]
HASH_A = "ab" * 32
HASH_B = "cd" * 32


def cloudtrail_attach(actor: str, target: str, policy: str, moment: datetime, event_id: str) -> Any:
    record = {
        "Records": [
            {
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "userName": actor, "accountId": "123456789012"},
                "eventTime": iso(moment).replace(".000", ""),
                "eventSource": "iam.amazonaws.com",
                "eventName": "AttachUserPolicy",
                "awsRegion": "us-east-1",
                "sourceIPAddress": "203.0.113.10",
                "requestParameters": {"userName": target, "policyArn": policy},
                "eventID": event_id,
                "eventType": "AwsApiCall",
                "recipientAccountId": "123456789012",
            }
        ]
    }
    return normalize("aws_cloudtrail", record)


def sentinelone_threat(host: str, file_hash: str, moment: datetime, event_id: str) -> Any:
    record = {
        "activitytype": 19,
        "createdat": iso(moment),
        "id": event_id,
        "primarydescription": "Threat detected",
        "data": {
            "computername": host,
            "filecontenthash": file_hash,
            "filepath": "C:\\Users\\pat\\Downloads\\invoice.exe",
            "threatclassification": "Malware",
        },
    }
    return normalize("edr_alerts", record)


def test_iam_policy_change_flags_escalation(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=2)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    events = [
        cloudtrail_attach("user007", "user008", admin, moment, "e-1"),
        cloudtrail_attach(
            "user009", "user010", "arn:aws:iam::aws:policy/ReadOnlyAccess", moment, "e-2"
        ),
    ]
    index_events(provisioned, f"logs-cloud.aws_cloudtrail-{namespace}", events)
    detector = make_detector()

    detector.run(IAM_POLICY_CHANGE)
    detector.run(IAM_POLICY_CHANGE)

    alerts = {alert.entity_key: alert for alert in stored_alerts(detector, "iam_policy_change")}
    assert sorted(alerts) == ["user.name=user007", "user.name=user009"]
    assert alerts["user.name=user007"].flags == {"is_escalation": True}
    assert alerts["user.name=user009"].flags == {"is_escalation": False}
    assert alerts["user.name=user007"].severity.value == "Critical"
    assert alerts["user.name=user007"].due_at - alerts["user.name=user007"].created_at == (
        timedelta(minutes=15)
    )


def test_admin_grant_alerts_once_after_restart(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=3)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    event = cloudtrail_attach("user007", "user008", admin, moment, "e-3")
    index_events(provisioned, f"logs-cloud.aws_cloudtrail-{namespace}", [event])

    make_detector().run(NEW_ADMIN_ACCOUNT)
    restarted = make_detector()
    for _ in range(3):
        restarted.run(NEW_ADMIN_ACCOUNT)

    alerts = stored_alerts(restarted, "new_admin_account")
    assert [alert.entity_key for alert in alerts] == ["user.target.name=user008"]


def test_malware_one_alert_per_host_and_hash(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=6)
    stream = f"logs-edr.sentinelone-{namespace}"
    first = [
        sentinelone_threat("pc-07", HASH_A, start, "s-1"),
        sentinelone_threat("pc-07", HASH_A, start + timedelta(minutes=1), "s-2"),
        sentinelone_threat("pc-07", HASH_B, start, "s-3"),
        sentinelone_threat("pc-08", HASH_A, start, "s-4"),
    ]
    index_events(provisioned, stream, first)
    detector = make_detector()
    detector.run(MALWARE_DETECTED)

    later = [sentinelone_threat("pc-07", HASH_A, start + timedelta(minutes=4), "s-5")]
    index_events(provisioned, stream, later)
    record = detector.run(MALWARE_DETECTED)

    alerts = {alert.entity_key: alert for alert in stored_alerts(detector, "malware_detected")}
    key = f"host.name=pc-07 file.hash.sha256={HASH_A}"
    assert len(alerts) == 3
    assert alerts[key].count == 3
    assert alerts[key].last_event == start.replace(microsecond=start.microsecond // 1000 * 1000) + (
        timedelta(minutes=4)
    )
    assert (record.alerts_created, record.alerts_updated) == (0, 1)


def test_malware_retried_after_write_block_alerts_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=1)
    event = sentinelone_threat("pc-07", HASH_A, moment, "s-9")
    index_events(provisioned, f"logs-edr.sentinelone-{namespace}", [event])
    detector = make_detector()
    blocked = {"index.blocks.write": True}
    provisioned.request("PUT", f"/{detector.alerts.index}/_settings", body=blocked)

    for _ in range(3):
        with pytest.raises(AlertWriteError, match="cluster_block_exception|blocked"):
            detector.run(MALWARE_DETECTED)
    unblocked = {"index.blocks.write": None}
    provisioned.request("PUT", f"/{detector.alerts.index}/_settings", body=unblocked)
    detector.run(MALWARE_DETECTED)
    detector.run(MALWARE_DETECTED)

    assert len(stored_alerts(detector, "malware_detected")) == 1
    runs = detector.runs.list_runs("malware_detected")
    assert [run.outcome for run in runs].count("failed") == 3
