"""SQL Server ERRORLOG normalization: logins, errors and configuration changes."""

from __future__ import annotations

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "mssql_errorlog.log"


def _event_with(needle):
    for event in events_of(parse_file("mssql_errorlog", SAMPLE, default_timezone="Europe/Berlin")):
        if needle in field(event, "event.original"):
            return event
    raise AssertionError(f"no ERRORLOG event contains {needle!r}")


def test_mssql_sample_parses_completely():
    results = parse_file("mssql_errorlog", SAMPLE, default_timezone="Europe/Berlin")

    assert len(results) == 6
    assert not [result for result in results if isinstance(result, Rejected)]


def test_mssql_login_failed_for_sa():
    event = _event_with("Login failed for user 'sa'")

    assert event["@timestamp"] == "2024-03-20T09:15:05.120Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.category") == ["authentication", "database"]
    assert field(event, "event.type") == ["start", "denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.reason") == "Password did not match that for the login provided"
    assert field(event, "user.name") == "sa"
    assert field(event, "source.ip") == "203.0.113.5"
    assert field(event, "event.dataset") == "database.mssql_errorlog"


def test_mssql_login_failed_from_local_machine():
    event = _event_with("svc_report")

    assert field(event, "event.action") == "login-failed"
    assert field(event, "user.name") == "svc_report"
    assert field(event, "source.ip") is None
    assert field(event, "source.address") == "<local machine>"


def test_mssql_login_succeeded_windows_user():
    event = _event_with("Login succeeded")

    assert field(event, "event.action") == "login-succeeded"
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "CORP\\alice"
    assert field(event, "source.ip") == "10.0.0.8"


def test_mssql_error_line_is_info():
    event = _event_with("Error: 18456")

    assert field(event, "event.action") == "error"
    assert field(event, "event.type") == ["info"]
    assert field(event, "event.code") == "18456"
    assert field(event, "mssql.error.state") == 8


def test_mssql_xp_cmdshell_enabled_is_tagged():
    event = _event_with("xp_cmdshell")

    assert event["@timestamp"] == "2024-03-20T09:17:00.000Z"
    assert field(event, "event.action") == "configuration-option-changed"
    assert field(event, "event.category") == ["database", "configuration"]
    assert field(event, "event.type") == ["change"]
    assert field(event, "mssql.configuration.new_value") == "1"
    assert field(event, "tags") == ["security-control-disabled"]


def test_mssql_utf16_file_is_read(parse_lines):
    data = SAMPLE.read_bytes().decode("utf-8").encode("utf-16")
    lines = data.split(b"\n")

    results = parse_lines("mssql_errorlog", lines, default_timezone="UTC")

    actions = [field(result, "event.action") for result in events_of(results)]
    assert actions[2] == "login-failed"
    assert len(actions) == 6
    assert "UTF-16 line break" in results[-1].reason


def test_mssql_other_text_is_rejected(parse_lines):
    [result] = parse_lines("mssql_errorlog", ["Login failed for user 'sa'."])

    assert isinstance(result, Rejected)
    assert "not a SQL Server ERRORLOG line" in result.reason


@pytest.mark.parametrize("source", [None, "database"])
def test_mssql_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "mssql_errorlog"
