"""Application log normalization: SaaS audit logs and the `socwb.app/1` schema."""

from __future__ import annotations

import json

from socwb.ingest.model import ParseContext, Rejected
from socwb.ingest.registry import get_normalizer

from .conftest import TEST_DATA, events_of, field


def test_auth0_brute_force_block_is_rate_limited(sample_event):
    event = sample_event("auth0", "app/auth0_tenant_logs_panther_tests.ndjson", "limit_wc")

    assert event["@timestamp"] == "2025-09-30T21:23:49.689Z"
    assert field(event, "event.action") == "rate-limited"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "hellison@wingtip.example"
    assert field(event, "source.ip") == "101.161.217.47"


def test_auth0_guardian_push_is_tagged_mfa(sample_event):
    event = sample_event("auth0", "app/auth0_tenant_logs_panther_tests.ndjson", "gd_send_pn")

    assert field(event, "event.action") == "mfa-push-sent"
    assert field(event, "socwb.auth.is_mfa_event") is True
    assert field(event, "user.name") == "wgallagher@fourthcoffee.example"


def test_box_failed_login_uses_fallback_time(sample_event):
    event = sample_event("box", "app/box_events_panther_tests.ndjson", "FAILED_LOGIN")

    assert event["@timestamp"] == "2024-01-01T00:00:00.000Z"
    assert event["tags"] == ["timestamp_from_context"]
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "cat@example"
    assert field(event, "source.ip") == "27.136.86.127"


def test_databricks_set_account_admin_marks_escalation(sample_event):
    event = sample_event(
        "databricks", "app/databricks_audit_panther_tests.ndjson", '"setAccountAdmin"'
    )

    assert event["@timestamp"] == "2009-02-13T23:31:30.000Z"
    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "mcastillo@example.com"
    assert field(event, "user.target.name") == "biversen@example.com"
    assert field(event, "socwb.iam.is_escalation") is True


def test_drupal_failed_login_uses_embedded_epoch(sample_event):
    event = sample_event("drupal_watchdog", "app/drupal_watchdog_auth.log", "1430068525")

    assert event["@timestamp"] == "2015-04-26T17:15:25.000Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "drupaladmin"
    assert field(event, "source.ip") == "101.161.217.47"
    assert field(event, "host.name") == "webserver"


def test_onepassword_bad_password(sample_event):
    event = sample_event(
        "onepassword", "app/onepassword_events_api_panther_tests.ndjson", "password_secret_bad"
    )

    assert event["@timestamp"] == "2021-12-03T19:52:52.000Z"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "umoreau@contoso-corp.example"
    assert field(event, "source.ip") == "27.136.86.127"


def test_salesforce_login_as_names_the_admin(sample_event):
    event = sample_event("salesforce", "app/salesforce_events_panther_tests.ndjson", "LoginAs")

    assert event["@timestamp"] == "2021-08-19T09:05:03.392Z"
    assert field(event, "event.type") == ["start", "admin"]
    assert field(event, "user.name") == "logan.nakamura@litware.example"
    assert field(event, "user.effective.id") == "rmoreau"
    assert field(event, "source.ip") == "26.113.96.136"


def test_slack_role_change_to_admin_marks_escalation(sample_event):
    event = sample_event(
        "slack_audit", "app/slack_audit_logs_panther_tests.ndjson", "role_change_to_admin"
    )

    assert event["@timestamp"] == "2023-02-24T18:33:21.000Z"
    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "user.name") == "morgan-garrity@coho.example"
    assert field(event, "user.target.name") == "xan-garrity@example.com"
    assert field(event, "source.ip") == "26.113.96.136"
    assert field(event, "socwb.iam.is_escalation") is True


def test_teleport_session_command_is_process(sample_event):
    event = sample_event("teleport", "app/teleport_audit_panther_tests.ndjson", "/bin/nc")

    assert event["@timestamp"] == "2020-08-17T17:40:37.491Z"
    assert field(event, "event.category") == ["process"]
    assert field(event, "process.name") == "nc"
    assert field(event, "process.command_line") == "nc -l -p 11434"
    assert field(event, "user.name") == "panther"
    assert field(event, "user.effective.name") == "root"


def test_vaultwarden_wrong_password(sample_event):
    event = sample_event("vaultwarden", "app/vaultwarden_auth.log", "IP: 53.118.154.253. Username")

    assert event["@timestamp"] == "2024-08-31T02:11:28.562Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "test@example.com"
    assert field(event, "source.ip") == "53.118.154.253"


def test_vaultwarden_offset_time_is_converted_to_utc(sample_event):
    event = sample_event("vaultwarden", "app/vaultwarden_auth.log", "02:11:30.123+0800")

    assert event["@timestamp"] == "2024-08-30T18:11:30.123Z"
    assert field(event, "event.action") == "admin-token-invalid"
    assert field(event, "user.name") == "alice"


def test_zoom_role_change_to_co_owner_marks_escalation(sample_event):
    event = sample_event(
        "zoom_operation", "app/zoom_operation_logs_panther_tests.ndjson", "from User to Co-Owner"
    )

    assert event["@timestamp"] == "2022-07-05T20:28:48.000Z"
    assert field(event, "user.name") == "jordan-petrov@org20.example"
    assert field(event, "user.target.name") == "xan.whitfield@org19.example"
    assert field(event, "socwb.iam.permission") == "Co-Owner"
    assert field(event, "socwb.iam.is_escalation") is True


def _app_events():
    path = TEST_DATA / "app_events.ndjson"
    with path.open("rb") as stream:
        results = list(get_normalizer("app_json").parse(stream, ParseContext()))
    return results


def test_app_json_sample_file_parses_without_rejects():
    results = _app_events()

    assert len(results) == 6
    assert len(events_of(results)) == 6


def test_app_json_login_with_mfa():
    event = _app_events()[0]

    assert event["@timestamp"] == "2024-05-02T08:15:02.120Z"
    assert field(event, "event.dataset") == "app.app_json"
    assert field(event, "event.action") == "login"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "alice@example.com"
    assert field(event, "source.ip") == "198.51.100.23"
    assert field(event, "socwb.auth.mfa_used") is True


def test_app_json_mfa_failure_is_tagged_mfa():
    event = _app_events()[1]

    assert event["@timestamp"] == "2024-05-02T06:16:40.000Z"
    assert field(event, "event.action") == "mfa-challenge"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "socwb.auth.is_mfa_event") is True


def test_app_json_denied_authorization():
    event = _app_events()[2]

    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["info", "denied"]
    assert field(event, "socwb.iam.permission") == "invoice:export"


def test_app_json_admin_role_grant_marks_escalation():
    event = _app_events()[3]

    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "user.target.name") == "carol@example.com"
    assert field(event, "socwb.iam.is_escalation") is True


def test_app_json_export_sets_rows_and_bytes():
    event = _app_events()[4]

    assert field(event, "event.action") == "data-export"
    assert field(event, "socwb.data.rows") == 125000
    assert field(event, "socwb.data.bytes") == 48213000
    assert field(event, "service.name") == "reporting"


def test_app_json_missing_fields_are_named(parse_lines):
    record = {"schema": "socwb.app/1", "type": "authentication", "outcome": "success"}

    [result] = parse_lines("app_json", [json.dumps(record)])

    assert isinstance(result, Rejected)
    assert result.reason == (
        "invalid socwb.app/1 event: missing timestamp, event_id, action, actor.name"
    )


def test_app_json_unknown_type_is_rejected(parse_lines):
    record = {
        "schema": "socwb.app/1",
        "timestamp": "2024-05-02T10:00:00Z",
        "event_id": "e1",
        "type": "billing",
        "action": "charge",
        "outcome": "success",
        "actor": {"name": "alice"},
    }

    [result] = parse_lines("app_json", [json.dumps(record)])

    assert isinstance(result, Rejected)
    assert "type 'billing' is not one of" in result.reason
