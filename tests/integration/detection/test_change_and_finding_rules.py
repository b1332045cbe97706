"""Firewall rule changes and critical vulnerability findings on events from the real normalizers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from socwb.detection import Detector
from socwb.rules.catalog import FIREWALL_RULE_CHANGE, VULNERABILITY_CRITICAL
from socwb.rules.model import iso
from socwb.search import SearchBackend

from .conftest import index_events, normalize, stored_alerts

MakeDetector = Callable[..., Detector]


def security_group_ingress(actor: str, cidr: str, moment: datetime, event_id: str) -> Any:
    """A CloudTrail AuthorizeSecurityGroupIngress record that opens port 22 to `cidr`."""
    permission = {
        "ipProtocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "ipRanges": {"items": [{"cidrIp": cidr}]},
    }
    record = {
        "Records": [
            {
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "userName": actor, "accountId": "123456789012"},
                "eventTime": iso(moment).replace(".000", ""),
                "eventSource": "ec2.amazonaws.com",
                "eventName": "AuthorizeSecurityGroupIngress",
                "awsRegion": "eu-central-1",
                "sourceIPAddress": "203.0.113.10",
                "requestParameters": {
                    "groupId": "sg-0a1b2c3d",
                    "ipPermissions": {"items": [permission]},
                },
                "eventID": event_id,
                "eventType": "AwsApiCall",
                "recipientAccountId": "123456789012",
            }
        ]
    }
    return normalize("aws_cloudtrail", record)


def trivy_finding(
    host: str, cve: str, moment: datetime, *, score: float | None, severity: str
) -> Any:
    """A Trivy filesystem report of `host` with one vulnerability."""
    vulnerability: dict[str, Any] = {
        "VulnerabilityID": cve,
        "PkgName": "openssl",
        "InstalledVersion": "3.0.1",
        "FixedVersion": "3.0.7",
        "Severity": severity,
        "Title": "Test finding",
    }
    if score is not None:
        vulnerability["CVSS"] = {"nvd": {"V3Score": score}}
    report = {
        "SchemaVersion": 2,
        "CreatedAt": iso(moment),
        "ArtifactName": host,
        "ArtifactType": "filesystem",
        "Results": [{"Target": "usr/lib", "Type": "debian", "Vulnerabilities": [vulnerability]}],
    }
    return normalize("trivy", report)


def test_firewall_change_open_to_world_flagged(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=2)
    events = [
        security_group_ingress("user011", "0.0.0.0/0", moment, "fw-1"),
        security_group_ingress("user012", "10.20.0.0/16", moment, "fw-2"),
    ]
    assert events[0]["socwb"]["network"]["is_open_to_world"] is True
    index_events(provisioned, f"logs-cloud.aws_cloudtrail-{namespace}", events)
    detector = make_detector()

    detector.run(FIREWALL_RULE_CHANGE)
    detector.run(FIREWALL_RULE_CHANGE)

    alerts = {alert.entity_key: alert for alert in stored_alerts(detector, "firewall_rule_change")}
    assert sorted(alerts) == ["user.name=user011", "user.name=user012"]
    assert alerts["user.name=user011"].flags == {"is_open_to_world": True}
    assert alerts["user.name=user012"].flags == {"is_open_to_world": False}
    assert alerts["user.name=user011"].count == 1
    assert alerts["user.name=user011"].severity.value == "High"
    assert alerts["user.name=user011"].due_at - alerts["user.name=user011"].created_at == (
        timedelta(hours=1)
    )


def test_critical_cvss_alerts_once_across_scans(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    stream = f"logs-vulnscan.trivy-{namespace}"
    first_scan = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    index_events(
        provisioned,
        stream,
        [
            trivy_finding("srv-01", "CVE-2024-0001", first_scan, score=9.8, severity="CRITICAL"),
            trivy_finding("srv-01", "CVE-2024-0002", first_scan, score=7.5, severity="HIGH"),
        ],
    )
    detector = make_detector()
    detector.run(VULNERABILITY_CRITICAL)

    second_scan = first_scan + timedelta(days=1)
    index_events(
        provisioned,
        stream,
        [
            trivy_finding("srv-01", "CVE-2024-0001", second_scan, score=9.8, severity="CRITICAL"),
            trivy_finding("srv-01", "CVE-2024-0002", second_scan, score=7.5, severity="HIGH"),
        ],
    )
    record = detector.run(VULNERABILITY_CRITICAL)

    alerts = stored_alerts(detector, "vulnerability_critical")
    assert [alert.entity_key for alert in alerts] == [
        "host.name=srv-01 container.image.name=- vulnerability.id=CVE-2024-0001"
    ]
    assert alerts[0].count == 2
    assert alerts[0].first_event == first_scan
    assert alerts[0].last_event == second_scan
    assert (record.alerts_created, record.alerts_updated) == (0, 1)


def test_scanner_critical_without_score_alerts(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    event = trivy_finding("srv-02", "CVE-2024-0003", moment, score=None, severity="CRITICAL")
    assert "score" not in event["vulnerability"]
    index_events(provisioned, f"logs-vulnscan.trivy-{namespace}", [event])
    detector = make_detector()

    detector.run(VULNERABILITY_CRITICAL)

    alerts = stored_alerts(detector, "vulnerability_critical")
    assert len(alerts) == 1
    assert alerts[0].entity_key.endswith("vulnerability.id=CVE-2024-0003")
    assert alerts[0].severity.value == "High"
    assert alerts[0].due_at - alerts[0].created_at == timedelta(hours=4)
