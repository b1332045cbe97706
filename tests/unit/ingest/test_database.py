"""Database log normalization: PostgreSQL, MySQL, MongoDB, Atlas and Snowflake."""

from __future__ import annotations

from .conftest import field

SNOWFLAKE = "database/snowflake_account_usage_panther_tests.ndjson"
PG_PREFIX = "2024-02-01 10:00:00 UTC:10.0.0.5(51000):alice@app:[4242]:LOG:  "


def test_postgresql_pg_hba_rejection_is_failed_login(sample_event):
    event = sample_event("postgresql_stderr", "database/postgresql_stderr.log", "pg_hba.conf")

    assert event["@timestamp"] == "2020-03-11T19:40:50.000Z"
    assert field(event, "event.action") == "connection-rejected"
    assert field(event, "event.category") == ["authentication", "database"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "dbowner1"
    assert field(event, "source.ip") == "192.168.1.201"
    assert field(event, "source.port") == 50906


def test_postgresql_copy_to_stdout_is_data_export(sample_event):
    event = sample_event("postgresql_stderr", "database/postgresql_stderr.log", "COPY (SELECT")

    assert event["@timestamp"] == "2020-03-11T19:41:46.000Z"
    assert field(event, "event.action") == "data-export"
    assert field(event, "user.name") == "postgres"
    assert field(event, "event.duration") == 11072000


def test_postgresql_grant_is_privileged_statement(parse_lines):
    [event] = parse_lines("postgresql_stderr", [PG_PREFIX + "statement: GRANT ALL ON t TO bob;"])

    assert event["@timestamp"] == "2024-02-01T10:00:00.000Z"
    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "event.type") == ["admin", "change"]


def test_postgresql_alter_table_is_schema_change(parse_lines):
    [event] = parse_lines("postgresql_stderr", [PG_PREFIX + "statement: ALTER TABLE t ADD c int;"])

    assert field(event, "event.action") == "schema-change"
    assert field(event, "event.category") == ["database", "configuration"]


def test_postgresql_pgaudit_role_class(parse_lines):
    line = PG_PREFIX + 'AUDIT: SESSION,1,1,ROLE,CREATE ROLE,,,"CREATE ROLE admin2 SUPERUSER",<none>'

    [event] = parse_lines("postgresql_stderr", [line])

    assert field(event, "event.action") == "privileged-statement"
    assert field(event, "postgresql.audit.class") == "ROLE"
    assert field(event, "postgresql.statement") == "CREATE ROLE admin2 SUPERUSER"


def test_mysql_access_denied(sample_event):
    event = sample_event(
        "mysql_error",
        "database/mysql_error_access_denied.log",
        "'root'@'59.59.104.92' (using password: YES)",
    )

    assert event["@timestamp"] == "2013-03-24T17:56:14.000Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "root"
    assert field(event, "source.ip") == "59.59.104.92"


def test_mysql_behind_syslog_header(sample_event):
    event = sample_event("mysql_error", "database/mysql_error_access_denied.log", "catinthehat")

    assert event["@timestamp"] == "2013-09-16T21:30:26.000Z"
    assert field(event, "host.name") == "catinthehat"
    assert field(event, "user.name") == "hacker"


def test_mongodb_failed_authentication(sample_event):
    event = sample_event("mongodb_log", "database/mongodb_auth_failures.log", "key mismatch")

    assert event["@timestamp"] == "2016-11-19T23:24:00.110Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "root"


def test_mongodb_json_log_authentication_failure(parse_lines):
    line = (
        '{"t":{"$date":"2024-02-01T10:00:00.000+00:00"},"s":"I","c":"ACCESS","id":20249,'
        '"ctx":"conn9","msg":"Authentication failed","attr":{"mechanism":"SCRAM-SHA-256",'
        '"user":"admin","db":"admin","client":"203.0.113.9:50312"}}'
    )

    [event] = parse_lines("mongodb_log", [line])

    assert event["@timestamp"] == "2024-02-01T10:00:00.000Z"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "admin"
    assert field(event, "source.ip") == "203.0.113.9"


def test_mongodb_atlas_role_change(sample_event):
    event = sample_event(
        "mongodb_atlas",
        "database/mongodb_atlas_events_panther_tests.ndjson",
        "USER_ROLES_CHANGED_AUDIT",
    )

    assert event["@timestamp"] == "2023-06-07T16:57:55.000Z"
    assert field(event, "event.category") == ["iam"]
    assert field(event, "user.name") == "user@alpineski.example"
    assert field(event, "user.target.name") == "ucoleman@alpineski.example"
    assert field(event, "source.ip") == "101.161.217.47"


def test_snowflake_failed_login(sample_event):
    event = sample_event("snowflake", SNOWFLAKE, '"IS_SUCCESS":"NO"')

    assert event["@timestamp"] == "2024-10-08T14:38:46.061Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "kholloway@org24.example"
    assert field(event, "source.ip") == "101.161.217.47"


def test_snowflake_get_files_is_data_export(sample_event):
    event = sample_event("snowflake", SNOWFLAKE, "data_exfil/DATA.csv")

    assert field(event, "event.action") == "data-export"
    assert field(event, "user.name") == "REESE_BRANDT"


def test_snowflake_grant_admin_role_marks_escalation(parse_lines):
    line = (
        '{"QUERY_TEXT":"GRANT ROLE ACCOUNTADMIN TO USER MALLORY;","QUERY_TYPE":"GRANT",'
        '"EXECUTION_STATUS":"SUCCESS","USER_NAME":"BOB","START_TIME":"2024-10-08 14:38:46"}'
    )

    [event] = parse_lines("snowflake", [line])

    assert field(event, "user.target.name") == "MALLORY"
    assert field(event, "socwb.iam.permission") == "ACCOUNTADMIN"
    assert field(event, "socwb.iam.is_escalation") is True
