"""PostgreSQL csvlog and jsonlog normalization, including pgaudit lines."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

CSVLOG = TEST_DATA / "postgresql_csvlog.csv"
JSONLOG = TEST_DATA / "postgresql_jsonlog.ndjson"


def _event_with(format_name, path, needle):
    for event in events_of(parse_file(format_name, path)):
        if needle in field(event, "event.original"):
            return event
    raise AssertionError(f"no {format_name} event contains {needle!r}")


@pytest.mark.parametrize(
    ("format_name", "path", "count"),
    [("postgresql_csvlog", CSVLOG, 4), ("postgresql_jsonlog", JSONLOG, 3)],
    ids=["csvlog", "jsonlog"],
)
def test_postgresql_sample_parses_completely(format_name, path, count):
    results = parse_file(format_name, path)

    assert len(results) == count
    assert not [result for result in results if isinstance(result, Rejected)]


def test_csvlog_password_failure():
    event = _event_with("postgresql_csvlog", CSVLOG, "password authentication failed")

    assert event["@timestamp"] == "2024-03-20T09:15:05.123Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.category") == ["authentication", "database"]
    assert field(event, "event.type") == ["start", "denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.code") == "28P01"
    assert field(event, "user.name") == "bob"
    assert field(event, "source.ip") == "203.0.113.25"
    assert field(event, "source.port") == 51234
    assert field(event, "postgresql.database") == "sales"
    assert field(event, "event.dataset") == "database.postgresql_csvlog"


def test_csvlog_alter_role_superuser_marks_escalation():
    event = _event_with("postgresql_csvlog", CSVLOG, "ALTER ROLE reporting SUPERUSER")

    assert event["@timestamp"] == "2024-03-20T09:16:00.500Z"
    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "event.category") == ["database", "iam"]
    assert field(event, "event.type") == ["admin", "change"]
    assert field(event, "user.name") == "dba"
    assert field(event, "user.target.name") == "reporting"
    assert field(event, "socwb.iam.permission") == "SUPERUSER"
    assert field(event, "socwb.iam.is_escalation") is True


def test_csvlog_pgaudit_grant_of_ordinary_role():
    event = _event_with("postgresql_csvlog", CSVLOG, "AUDIT: SESSION")

    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "postgresql.audit.class") == "ROLE"
    assert field(event, "postgresql.statement") == "GRANT pg_read_all_data TO reporting;"
    assert field(event, "user.target.name") == "reporting"
    assert field(event, "socwb.iam.permission") == "pg_read_all_data"
    assert field(event, "socwb.iam.is_escalation") is None


def test_csvlog_local_connection_has_no_source():
    event = _event_with("postgresql_csvlog", CSVLOG, "connection authorized")

    assert field(event, "event.action") == "login-succeeded"
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "app"
    assert field(event, "source.ip") is None


def test_jsonlog_password_failure():
    event = _event_with("postgresql_jsonlog", JSONLOG, '"mallory\\""')

    assert event["@timestamp"] == "2024-03-21T08:00:01.250Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "mallory"
    assert field(event, "source.ip") == "198.51.100.40"
    assert field(event, "error.message") == 'Role "mallory" does not exist.'


def test_jsonlog_grant_admin_role_marks_escalation():
    event = _event_with("postgresql_jsonlog", JSONLOG, "GRANT cloud_admin")

    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "user.name") == "dba"
    assert field(event, "user.target.name") == "mallory"
    assert field(event, "socwb.iam.permission") == "cloud_admin"
    assert field(event, "socwb.iam.is_escalation") is True


def test_jsonlog_copy_to_file_is_data_export():
    event = _event_with("postgresql_jsonlog", JSONLOG, "COPY employees")

    assert field(event, "event.action") == "data-export"
    assert field(event, "event.type") == ["access"]
    assert field(event, "source.domain") is None


def test_csvlog_zone_less_time_uses_default_timezone(parse_lines):
    line = '2024-03-20 10:15:05,"a","b",1,"",s,1,"",,,0,LOG,00000,"checkpoint starting: time"'

    [event] = parse_lines("postgresql_csvlog", [line], default_timezone="Asia/Tokyo")

    assert event["@timestamp"] == "2024-03-20T01:15:05.000Z"


def test_csvlog_short_row_is_rejected(parse_lines):
    [result] = parse_lines("postgresql_csvlog", ["2024-03-20 10:15:05 UTC,a,b"])

    assert isinstance(result, Rejected)
    assert "expected at least 14" in result.reason


def test_jsonlog_without_timestamp_is_rejected(parse_lines):
    record = {"error_severity": "LOG", "message": "x", "backend_type": "checkpointer"}

    [result] = parse_lines("postgresql_jsonlog", [json.dumps(record)])

    assert isinstance(result, Rejected)
    assert "no valid timestamp field" in result.reason


@pytest.mark.parametrize(
    ("path", "expected"),
    [(CSVLOG, "postgresql_csvlog"), (JSONLOG, "postgresql_jsonlog")],
    ids=["csvlog", "jsonlog"],
)
@pytest.mark.parametrize("source", [None, "database"])
def test_postgresql_structured_detected(path, expected, source):
    head = path.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == expected
