"""MySQL audit logs: Percona Audit Log Plugin and MySQL Enterprise Audit JSON."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "mysql_audit.ndjson"


def _event_with(needle):
    for event in events_of(parse_file("mysql_audit", SAMPLE)):
        if needle in field(event, "event.original"):
            return event
    raise AssertionError(f"no MySQL audit event contains {needle!r}")


def test_mysql_audit_sample_parses_completely():
    results = parse_file("mysql_audit", SAMPLE)

    assert len(results) == 8
    assert not [result for result in results if isinstance(result, Rejected)]


def test_percona_failed_connect():
    event = _event_with('"status":1045,"user":"eve"')

    assert event["@timestamp"] == "2024-03-20T10:14:00.000Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.category") == ["authentication", "database"]
    assert field(event, "event.type") == ["start", "denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "eve"
    assert field(event, "source.ip") == "203.0.113.9"
    assert field(event, "event.dataset") == "database.mysql_audit"


def test_percona_successful_connect():
    event = _event_with('"priv_user":"root"')

    assert field(event, "event.action") == "login-succeeded"
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "root"


def test_percona_global_grant_with_grant_option_marks_escalation():
    event = _event_with("GRANT ALL PRIVILEGES")

    assert event["@timestamp"] == "2024-03-20T10:15:05.000Z"
    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "event.category") == ["database", "iam"]
    assert field(event, "event.type") == ["admin", "change"]
    assert field(event, "user.name") == "root"
    assert field(event, "user.target.name") == "eve"
    assert field(event, "socwb.iam.permission") == "ALL PRIVILEGES ON *.*"
    assert field(event, "socwb.iam.is_escalation") is True


def test_percona_create_user():
    event = _event_with("CREATE USER")

    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "event.type") == ["admin", "creation"]
    assert field(event, "user.target.name") == "backup"
    assert field(event, "socwb.iam.is_escalation") is None


def test_percona_drop_table_is_schema_change():
    event = _event_with("DROP TABLE")

    assert field(event, "event.action") == "schema-change"
    assert field(event, "event.type") == ["deletion"]
    assert field(event, "user.name") == "eve"
    assert field(event, "source.ip") == "203.0.113.9"


def test_enterprise_failed_connect():
    event = _event_with('"class":"connection"')

    assert event["@timestamp"] == "2024-03-21T08:00:00.000Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "app"
    assert field(event, "source.ip") == "198.51.100.31"
    assert field(event, "source.domain") is None


def test_enterprise_grant_on_one_schema_is_no_escalation():
    event = _event_with("GRANT SELECT")

    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "user.name") == "dba"
    assert field(event, "user.target.name") == "report"
    assert field(event, "socwb.iam.permission") == "SELECT ON billing.*"
    assert field(event, "socwb.iam.is_escalation") is None


def test_enterprise_select_into_outfile_is_data_export():
    event = _event_with("INTO OUTFILE")

    assert field(event, "event.action") == "data-export"
    assert field(event, "event.type") == ["access"]


def test_failed_global_grant_is_no_escalation(parse_lines):
    record = {
        "audit_record": {
            "name": "Query",
            "timestamp": "2024-03-20T10:15:05 UTC",
            "command_class": "grant",
            "status": 1227,
            "sqltext": "GRANT SUPER ON *.* TO 'eve'@'%'",
            "user": "eve[eve] @  [203.0.113.9]",
        }
    }

    [event] = parse_lines("mysql_audit", [json.dumps(record)])

    assert field(event, "event.outcome") == "failure"
    assert field(event, "socwb.iam.permission") == "SUPER ON *.*"
    assert field(event, "socwb.iam.is_escalation") is None


@pytest.mark.parametrize("source", [None, "database"])
def test_mysql_audit_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "mysql_audit"


def test_percona_quit_is_session_end(parse_lines):
    record = {
        "audit_record": {
            "name": "Quit",
            "timestamp": "2024-03-20T10:20:00 UTC",
            "status": 0,
            "user": "root",
        }
    }

    [event] = parse_lines("mysql_audit", [json.dumps(record)])

    assert field(event, "event.action") == "disconnect"
    assert field(event, "event.category") == ["session", "database"]
    assert field(event, "event.type") == ["end"]
