"""PAN-OS syslog CSV logs: TRAFFIC, THREAT, CONFIG, SYSTEM and GLOBALPROTECT rows."""

from __future__ import annotations

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "panos.log"


def _event_with(needle):
    for event in events_of(parse_file("panos", SAMPLE, default_timezone="Europe/Berlin")):
        if needle in field(event, "event.original"):
            return event
    raise AssertionError(f"no PAN-OS event contains {needle!r}")


def test_panos_sample_parses_completely():
    results = parse_file("panos", SAMPLE, default_timezone="Europe/Berlin")

    assert len(results) == 9
    assert not [result for result in results if isinstance(result, Rejected)]


def test_panos_traffic_allowed_session_end():
    event = _event_with(",TRAFFIC,end,")

    assert event["@timestamp"] == "2024-03-20T09:15:04.000Z"
    assert field(event, "event.action") == "connection-allowed"
    assert field(event, "event.category") == ["network"]
    assert field(event, "event.type") == ["connection", "allowed", "end"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "event.dataset") == "network.panos"
    assert field(event, "host.name") == "PA-3220-EDGE"
    assert field(event, "user.name") == "corp\\alice"
    assert field(event, "source.ip") == "10.20.1.15"
    assert field(event, "source.port") == 51234
    assert field(event, "destination.ip") == "203.0.113.80"
    assert field(event, "destination.port") == 443
    assert field(event, "rule.name") == "allow-web"
    assert field(event, "source.bytes") == 2120
    assert field(event, "destination.bytes") == 7000
    assert field(event, "event.reason") == "tcp-fin"


def test_panos_traffic_deny():
    event = _event_with(",TRAFFIC,drop,")

    assert event["@timestamp"] == "2024-03-20T09:15:06.000Z"
    assert field(event, "event.action") == "connection-denied"
    assert field(event, "event.type") == ["connection", "denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "198.51.100.66"
    assert field(event, "destination.port") == 3389


def test_panos_threat_wildfire_virus_with_sha256():
    event = _event_with(",THREAT,wildfire-virus,")

    assert event["@timestamp"] == "2024-03-20T09:15:59.000Z"
    assert field(event, "event.kind") == "alert"
    assert field(event, "event.action") == "malware-detected"
    assert field(event, "event.category") == ["network", "intrusion_detection", "malware"]
    assert field(event, "event.type") == ["denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "file.name") == "invoice_0320.exe"
    assert field(event, "file.hash.sha256") == (
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )
    assert field(event, "rule.name") == "Virus/Win32.WGeneric.abcd"
    assert field(event, "rule.id") == "312345678"
    assert field(event, "socwb.alert.severity") == "critical"
    assert field(event, "destination.user.name") == "corp\\alice"


def test_panos_threat_vulnerability_alert_only():
    event = _event_with(",THREAT,vulnerability,")

    assert field(event, "event.action") == "threat-vulnerability"
    assert field(event, "event.type") == ["info"]
    assert field(event, "rule.name") == "SQL Injection Attempt"
    assert field(event, "rule.id") == "34567"
    assert field(event, "source.ip") == "198.51.100.70"


def test_panos_config_rule_opened_to_any_source():
    event = _event_with("rulebase security rules allow-rdp")

    assert event["@timestamp"] == "2024-03-20T09:19:59.000Z"
    assert field(event, "event.action") == "config-edit"
    assert field(event, "event.category") == ["configuration", "network"]
    assert field(event, "event.type") == ["change"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "netadmin"
    assert field(event, "source.ip") == "10.20.0.5"
    assert field(event, "rule.name") == "allow-rdp"
    assert field(event, "socwb.network.is_open_to_world") is True


def test_panos_config_deny_rule_is_not_open(parse_lines):
    line = (
        "1,2024/03/20 10:20:00,0128,CONFIG,0,2561,2024/03/20 10:19:59,10.20.0.5,vsys1,edit,"
        'netadmin,Web,Succeeded,vsys vsys1 rulebase security rules block-all,,"block-all '
        '{ source any; action deny; }",1,0x0'
    )

    [event] = parse_lines("panos", [line])

    assert field(event, "event.action") == "config-edit"
    assert field(event, "socwb.network.is_open_to_world") is None


def test_panos_config_superuser_admin_marks_escalation():
    event = _event_with("mgt-config users helpdesk2")

    assert field(event, "event.action") == "config-set"
    assert field(event, "event.category") == ["iam", "configuration"]
    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "user.target.name") == "helpdesk2"
    assert field(event, "socwb.iam.permission") == "superuser"
    assert field(event, "socwb.iam.is_escalation") is True


def test_panos_system_globalprotect_portal_auth_failure():
    event = _event_with("globalprotectportal-auth-fail")

    assert event["@timestamp"] == "2024-03-20T09:21:59.000Z"
    assert field(event, "event.action") == "vpn-login-failed"
    assert field(event, "event.category") == ["authentication", "network"]
    assert field(event, "event.type") == ["start"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.code") == "globalprotectportal-auth-fail"
    assert field(event, "user.name") == "bob"
    assert field(event, "source.ip") == "203.0.113.7"


def test_panos_globalprotect_log_gateway_auth_failure():
    event = _event_with(",GLOBALPROTECT,")

    assert event["@timestamp"] == "2024-03-20T09:22:59.000Z"
    assert field(event, "event.action") == "vpn-login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "carol"
    assert field(event, "source.ip") == "203.0.113.8"
    assert field(event, "event.reason") == "Authentication failed: Invalid username or password"


def test_panos_system_admin_auth_failure():
    event = _event_with(",auth-fail,")

    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "user.name") == "admin"
    assert field(event, "source.ip") == "198.51.100.9"


def test_panos_time_uses_default_timezone(parse_lines):
    line = "1,2024/03/20 10:15:05,0128,SYSTEM,general,0,2024/03/20 10:15:04,,general,,0,0,general"

    [event] = parse_lines("panos", [line], default_timezone="America/New_York")

    assert event["@timestamp"] == "2024-03-20T14:15:04.000Z"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Mar 20 10:15:05 fw sshd[1]: hello", "not a PAN-OS log line"),
        ("1,2024/03/20 10:15:05,0128,TRAFFIC,end", "fewer than the 8"),
        ("1,2024/03/20 10:15:05,0128,TRAFFIC,end,1,2024/13/40 99:00:00,x", "invalid PAN-OS"),
    ],
    ids=["not-csv", "short-row", "bad-time"],
)
def test_panos_bad_lines_are_rejected(parse_lines, line, reason):
    [result] = parse_lines("panos", [line])

    assert isinstance(result, Rejected)
    assert reason in result.reason


@pytest.mark.parametrize("source", [None, "network"])
def test_panos_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "panos"
