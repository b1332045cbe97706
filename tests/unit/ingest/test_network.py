"""Network, VPN and SSH normalization: OpenSSH, OpenVPN and Cisco ASA."""

from __future__ import annotations

from socwb.ingest.model import Rejected

from .conftest import field

SSH_LINE = (
    "Dec 10 09:32:20 srv-sz01 sshd[24680]: Accepted password for kvaldez "
    "from 119.41.107.212 port 49116 ssh2"
)


def test_openssh_accepted_password(sample_event):
    event = sample_event("openssh", "network/openssh_auth.log", "Accepted password")

    assert event["@timestamp"] == "2024-12-10T09:32:20.000Z"
    assert field(event, "event.action") == "ssh-login-succeeded"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "kvaldez"
    assert field(event, "source.ip") == "119.41.107.212"
    assert field(event, "source.port") == 49116
    assert field(event, "host.name") == "srv-sz01"


def test_openssh_failed_password_for_invalid_user(sample_event):
    event = sample_event("openssh", "network/openssh_auth.log", "Failed password for invalid user")

    assert event["@timestamp"] == "2024-12-10T06:55:48.000Z"
    assert field(event, "event.action") == "ssh-login-failed"
    assert field(event, "event.type") == ["start"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "webmaster"
    assert field(event, "source.ip") == "207.63.31.127"


def test_openssh_pam_failure_is_not_an_attempt(sample_event):
    event = sample_event(
        "openssh", "network/openssh_auth.log", "pam_unix(sshd:auth): authentication"
    )

    assert field(event, "event.action") == "pam-authentication-failure"
    assert field(event, "event.type") == ["info"]


def test_openssh_without_year_is_rejected(parse_lines):
    [result] = parse_lines("openssh", [SSH_LINE])

    assert isinstance(result, Rejected)
    assert result.reason.startswith("syslog timestamp has no year: set the default year")
    assert result.line_number == 1


def test_openssh_default_timezone_converts_to_utc(parse_lines):
    [event] = parse_lines(
        "openssh", [SSH_LINE], default_year=2023, default_timezone="Europe/Berlin"
    )

    assert event["@timestamp"] == "2023-12-10T08:32:20.000Z"


def test_openvpn_auth_failure(sample_event):
    event = sample_event("openvpn", "network/openvpn_server.log", "Auth Username/Password")

    assert event["@timestamp"] == "2024-04-25T11:19:22.000Z"
    assert field(event, "event.action") == "vpn-login-failed"
    assert field(event, "event.category") == ["authentication", "network"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "192.0.2.254"
    assert field(event, "process.name") == "ovpn-server"


def test_openvpn_connection_established(sample_event):
    event = sample_event("openvpn", "network/openvpn_server.log", "TCP connection established")

    assert field(event, "event.category") == ["network"]
    assert field(event, "event.type") == ["connection", "start"]
    assert field(event, "source.ip") == "92.81.24.232"
    assert field(event, "source.port") == 10107
    assert field(event, "network.transport") == "tcp"
    assert field(event, "host.name") == "hostname"


def test_cisco_asa_privilege_level_15_marks_escalation(sample_event):
    event = sample_event("cisco_asa", "network/cisco_asa_messages.log", "%ASA-5-502103")

    assert field(event, "event.action") == "user-privilege-changed"
    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "user.target.name") == "impssnagios"
    assert field(event, "socwb.iam.is_escalation") is True


def test_cisco_asa_user_added_is_account_creation(sample_event):
    event = sample_event("cisco_asa", "network/cisco_asa_messages.log", "%ASA-5-502101")

    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["user", "creation"]


def test_cisco_asa_acl_deny(sample_event):
    event = sample_event("cisco_asa", "network/cisco_asa_messages.log", "%ASA-4-106023")

    assert field(event, "event.action") == "connection-denied"
    assert field(event, "event.category") == ["network"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "36.0.86.42"
    assert field(event, "source.port") == 2143
    assert field(event, "destination.ip") == "169.197.213.162"
    assert field(event, "destination.port") == 139
    assert field(event, "network.transport") == "tcp"


def test_cisco_asa_aaa_rejection(sample_event):
    event = sample_event("cisco_asa", "network/cisco_asa_messages.log", "%ASA-6-113005")

    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "user"


def test_cisco_asa_with_syslog_header_uses_its_time(parse_lines):
    line = (
        "Mar 14 08:01:02 fw01 %ASA-6-605004: Login denied from 203.0.113.5/40000 "
        'to outside:192.0.2.1/ssh for user "root"'
    )

    [event] = parse_lines("cisco_asa", [line], default_year=2024)

    assert event["@timestamp"] == "2024-03-14T08:01:02.000Z"
    assert field(event, "event.action") == "login-denied"
    assert field(event, "user.name") == "root"
    assert field(event, "source.ip") == "203.0.113.5"


def test_cisco_asa_without_header_is_rejected_without_fallback(parse_lines):
    [result] = parse_lines("cisco_asa", ["%ASA-6-113004: AAA user example Successful"])

    assert isinstance(result, Rejected)
    assert result.reason.startswith("missing or invalid timestamp")


ASA_ACL_OPEN = (
    "Nov 23 2026 10:21:40 asa-01 : %ASA-5-111008: User 'felix.becker' executed the "
    "'access-list outside_access_in extended permit tcp any host 10.0.2.20 eq 3389' command."
)
ASA_ACL_INTERNAL = (
    "Nov 23 2026 10:25:00 asa-01 : %ASA-5-111010: User 'felix.becker', running 'CLI' from IP "
    "10.8.0.13, executed 'access-list inside_in extended permit tcp 10.1.0.0 255.255.0.0 any'"
)


def test_cisco_asa_access_list_is_firewall_change(parse_lines):
    event = parse_lines("cisco_asa", [ASA_ACL_OPEN], default_year=2026)[0]

    assert field(event, "event.category") == ["configuration", "network"]
    assert field(event, "event.action") == "firewall-rule-changed"
    assert field(event, "rule.name") == "outside_access_in"
    assert field(event, "socwb.network.is_open_to_world") is True
    assert field(event, "user.name") == "felix.becker"


def test_cisco_asa_internal_source_is_not_open(parse_lines):
    event = parse_lines("cisco_asa", [ASA_ACL_INTERNAL], default_year=2026)[0]

    assert field(event, "event.action") == "firewall-rule-changed"
    assert field(event, "socwb.network.is_open_to_world") is None
