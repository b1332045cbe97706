"""FortiGate key-value logs: traffic, VPN and administrator logins, configuration changes."""

from __future__ import annotations

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "fortigate.log"


def _event_with(needle, **context):
    context.setdefault("default_timezone", "Europe/Berlin")
    for event in events_of(parse_file("fortigate", SAMPLE, **context)):
        if needle in field(event, "event.original"):
            return event
    raise AssertionError(f"no FortiGate event contains {needle!r}")


def test_fortigate_sample_parses_completely():
    results = parse_file("fortigate", SAMPLE, default_timezone="Europe/Berlin")

    assert len(results) == 6
    assert not [result for result in results if isinstance(result, Rejected)]


def test_fortigate_traffic_accept():
    event = _event_with('action="accept"')

    assert event["@timestamp"] == "2024-03-20T09:15:05.123Z"
    assert field(event, "event.action") == "connection-allowed"
    assert field(event, "event.category") == ["network"]
    assert field(event, "event.type") == ["connection", "allowed"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "event.code") == "0000000013"
    assert field(event, "host.name") == "FGT60F-EDGE"
    assert field(event, "source.ip") == "10.10.1.25"
    assert field(event, "destination.ip") == "203.0.113.10"
    assert field(event, "destination.port") == 443
    assert field(event, "network.transport") == "tcp"
    assert field(event, "source.bytes") == 5120
    assert field(event, "rule.name") == "lan-to-internet"


def test_fortigate_traffic_deny():
    event = _event_with('action="deny"')

    assert event["@timestamp"] == "2024-03-20T09:15:09.000Z"
    assert field(event, "event.action") == "connection-denied"
    assert field(event, "event.type") == ["connection", "denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "198.51.100.77"
    assert field(event, "destination.port") == 3389


def test_fortigate_ssl_vpn_login_failure():
    event = _event_with("ssl-login-fail")

    assert event["@timestamp"] == "2024-03-20T09:20:00.000Z"
    assert field(event, "event.action") == "vpn-login-failed"
    assert field(event, "event.category") == ["authentication", "network"]
    assert field(event, "event.type") == ["start"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.reason") == "sslvpn_login_permission_denied"
    assert field(event, "user.name") == "bob"
    assert field(event, "source.ip") == "203.0.113.99"


def test_fortigate_admin_login_failure_without_eventtime_or_tz():
    event = _event_with("Admin login failed")

    assert event["@timestamp"] == "2024-03-20T09:27:00.000Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "root"
    assert field(event, "source.ip") == "198.51.100.8"


def test_fortigate_policy_opened_to_any_source():
    event = _event_with('cfgpath="firewall.policy"')

    assert event["@timestamp"] == "2024-03-20T09:25:00.000Z"
    assert field(event, "event.action") == "policy-changed"
    assert field(event, "event.category") == ["configuration", "network"]
    assert field(event, "event.type") == ["change"]
    assert field(event, "user.name") == "admin"
    assert field(event, "source.ip") == "10.10.1.2"
    assert field(event, "rule.id") == "7"
    assert field(event, "socwb.network.is_open_to_world") is True


@pytest.mark.parametrize(
    "cfgattr",
    ["srcaddr[all]action[deny]", "srcaddr[all->lan-servers]", "dstaddr[all]"],
    ids=["deny-action", "source-narrowed", "destination-only"],
)
def test_fortigate_policy_change_not_open(parse_lines, cfgattr):
    line = (
        'date=2024-03-20 time=10:25:00 devname="fw" logid="0100044547" type="event" '
        f'subtype="system" user="admin" action="Edit" cfgpath="firewall.policy" cfgobj="7" '
        f'cfgattr="{cfgattr}"'
    )

    [event] = parse_lines("fortigate", [line])

    assert field(event, "event.action") == "policy-changed"
    assert field(event, "socwb.network.is_open_to_world") is None


def test_fortigate_super_admin_account_marks_escalation():
    event = _event_with('cfgpath="system.admin"')

    assert field(event, "event.action") == "admin-account-created"
    assert field(event, "event.category") == ["iam", "configuration"]
    assert field(event, "event.type") == ["user", "creation", "admin"]
    assert field(event, "user.name") == "admin"
    assert field(event, "user.target.name") == "helpdesk2"
    assert field(event, "socwb.iam.permission") == "super_admin"
    assert field(event, "socwb.iam.is_escalation") is True


def test_fortigate_tz_offset_without_eventtime(parse_lines):
    line = 'date=2024-03-20 time=7:05:00 tz="-0500" logid="1" type="traffic" action="close"'

    [event] = parse_lines("fortigate", [line])

    assert event["@timestamp"] == "2024-03-20T12:05:00.000Z"
    assert field(event, "event.action") == "connection-allowed"


def test_fortigate_line_without_date_is_rejected(parse_lines):
    [result] = parse_lines("fortigate", ['devname="fw" logid="1" type="traffic"'])

    assert isinstance(result, Rejected)
    assert "not a FortiGate log line" in result.reason


@pytest.mark.parametrize("source", [None, "network"])
def test_fortigate_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "fortigate"
