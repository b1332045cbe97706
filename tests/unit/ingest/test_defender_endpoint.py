"""Microsoft Defender for Endpoint alerts from the alerts API."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "defender_endpoint_alerts.ndjson"
MIMIKATZ_SHA256 = "92f3d0c1b2a3948576e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a291807"


def _event_with_incident(incident_id):
    for event in events_of(parse_file("defender_endpoint", SAMPLE)):
        if field(event, "defender.incident_id") == incident_id:
            return event
    raise AssertionError(f"no Defender alert of incident {incident_id}")


def test_defender_sample_parses_completely():
    results = parse_file("defender_endpoint", SAMPLE)

    assert len(results) == 2
    assert not [result for result in results if isinstance(result, Rejected)]


def test_defender_malware_alert_with_sha256():
    event = _event_with_incident("4242")

    assert event["@timestamp"] == "2024-03-20T10:15:05.123Z"
    assert field(event, "event.kind") == "alert"
    assert field(event, "event.action") == "malware-detected"
    assert field(event, "event.category") == ["malware"]
    assert field(event, "event.type") == ["info"]
    assert field(event, "event.dataset") == "edr.defender_endpoint"
    assert field(event, "host.name") == "ws-17.corp.example.com"
    assert field(event, "user.name") == "alice"
    assert field(event, "file.hash.sha256") == MIMIKATZ_SHA256
    assert field(event, "file.name") == "mimikatz.exe"
    assert field(event, "file.path") == "C:\\Users\\alice\\Downloads\\mimikatz.exe"
    assert field(event, "threat.software.name") == "Mimikatz"
    assert field(event, "threat.technique.id") == ["T1003", "T1003.001"]
    assert field(event, "socwb.alert.severity") == "High"
    assert field(event, "event.severity") == 4
    assert MIMIKATZ_SHA256 in field(event, "related.hash")


def test_defender_suspicious_activity_alert():
    event = _event_with_incident("4243")

    assert event["@timestamp"] == "2024-03-20T11:00:00.000Z"
    assert field(event, "event.action") == "alert"
    assert field(event, "event.category") == ["threat"]
    assert field(event, "event.type") == ["indicator"]
    assert field(event, "process.command_line") == "powershell.exe -nop -w hidden -enc SQBFAFgA"
    assert field(event, "source.ip") == "198.51.100.99"
    assert field(event, "user.name") is None
    assert field(event, "file.hash.sha256") is None


def test_defender_hash_of_wrong_length_is_dropped(parse_lines):
    record = {
        "alertCreationTime": "2024-03-20T12:00:00Z",
        "detectionSource": "WindowsDefenderAv",
        "category": "Malware",
        "evidence": [{"entityType": "File", "fileName": "a.exe", "sha256": "abc123"}],
    }

    [event] = parse_lines("defender_endpoint", [json.dumps(record)])

    assert field(event, "file.name") == "a.exe"
    assert field(event, "file.hash.sha256") is None


def test_defender_alert_without_time_is_rejected(parse_lines):
    record = {"alertCreationTime": None, "machineId": "m1", "category": "Malware"}

    [result] = parse_lines("defender_endpoint", [json.dumps(record)])

    assert isinstance(result, Rejected)
    assert "no valid alertCreationTime field" in result.reason


@pytest.mark.parametrize("source", [None, "edr"])
def test_defender_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "defender_endpoint"
