"""Every shared sample file: format detection, record counts and the expected rejects.

The only records rejected are those without a valid timestamp. They are rejected
unless the caller supplies `ParseContext.fallback_time`. The counts below are per
file, and each file parses completely once a fallback time is set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from socwb.ingest.detect import HEAD_CHARS, detect_format
from socwb.ingest.model import Rejected

from .conftest import FALLBACK_TIME, parse_file, require_sample

# (file, format, records, rejects without a fallback time)
SAMPLES = [
    ("app/auth0_tenant_logs_panther_tests.ndjson", "auth0", 34, 0),
    # Box test events carry no created_at at all.
    ("app/box_events_panther_tests.ndjson", "box", 21, 21),
    ("app/databricks_audit_panther_tests.ndjson", "databricks", 94, 21),
    ("app/drupal_watchdog_auth.log", "drupal_watchdog", 7, 0),
    ("app/onepassword_events_api_panther_tests.ndjson", "onepassword", 7, 0),
    ("app/salesforce_events_panther_tests.ndjson", "salesforce", 3, 0),
    ("app/slack_audit_logs_panther_tests.ndjson", "slack_audit", 31, 23),
    # One record has the malformed time "2023-09-20T23:00:000.000000Z".
    ("app/teleport_audit_panther_tests.ndjson", "teleport", 10, 1),
    ("app/vaultwarden_auth.log", "vaultwarden", 9, 0),
    ("app/zoom_operation_logs_panther_tests.ndjson", "zoom_operation", 17, 1),
    # 26 records lack a time and 4 have the malformed "2024-12-17 00:00:00000000".
    ("cicd/github_audit_log_panther_tests.ndjson", "github_audit", 82, 30),
    ("cicd/github_webhook_panther_tests.ndjson", "github_webhook", 45, 40),
    ("cloud/aws_cloudtrail_ec2_proxy_s3_exfiltration.ndjson", "aws_cloudtrail", 103, 0),
    # 13 records lack eventTime; two carry "..." and "redacted".
    ("cloud/aws_cloudtrail_panther_tests.json", "aws_cloudtrail", 334, 15),
    ("cloud/aws_cloudtrail_scenario_enrichment_example.json", "aws_cloudtrail", 11, 0),
    ("cloud/azure_activity_panther_tests.ndjson", "azure_activity", 187, 24),
    ("database/mongodb_atlas_events_panther_tests.ndjson", "mongodb_atlas", 13, 0),
    ("database/mongodb_auth_failures.log", "mongodb_log", 12, 0),
    ("database/mysql_error_access_denied.log", "mysql_error", 17, 0),
    ("database/postgresql_stderr.log", "postgresql_stderr", 3000, 0),
    ("database/snowflake_account_usage_panther_tests.ndjson", "snowflake", 18, 11),
    ("edr/crowdstrike_event_streams_panther_tests.ndjson", "crowdstrike_stream", 22, 0),
    ("edr/crowdstrike_fdr_panther_tests.ndjson", "crowdstrike_fdr", 51, 2),
    # The one timestamp-like value in these rows is osquery's `columns.time`, a
    # column of the query result and not the time of the log line.
    ("edr/osquery_differential_panther_tests.ndjson", "osquery", 28, 25),
    ("edr/sentinelone_carbonblack_defender_panther_tests.ndjson", "edr_alerts", 19, 0),
    (
        "edr/windows_sysmon_security_cmd_mshta_vbscript_execute_psh.ndjson",
        "windows_eventlog",
        1127,
        0,
    ),
    (
        "edr/windows_sysmon_security_covenant_sharpwmi_create_dcerpc_wmi.ndjson",
        "windows_eventlog",
        2343,
        0,
    ),
    (
        "edr/windows_sysmon_security_psh_lsass_memory_dump_comsvcs.ndjson",
        "windows_eventlog",
        184,
        0,
    ),
    ("idp/azure_ad_signin_audit_panther_tests.ndjson", "azure_ad", 32, 0),
    ("idp/duo_auth_admin_panther_tests.ndjson", "duo", 31, 9),
    ("idp/google_workspace_activity_panther_tests.ndjson", "google_workspace", 90, 43),
    ("idp/okta_scenario_bruteforce_then_admin_grant.ndjson", "okta", 17, 0),
    ("idp/okta_system_log_panther_tests.ndjson", "okta", 49, 10),
    ("idp/onelogin_events_panther_tests.ndjson", "onelogin", 23, 23),
    # ASA message bodies without any syslog header carry no time.
    ("network/cisco_asa_messages.log", "cisco_asa", 87, 87),
    ("network/openssh_auth.log", "openssh", 2000, 0),
    ("network/openvpn_server.log", "openvpn", 20, 0),
    ("vulnscan/nessus_scan_cvssv3.nessus", "nessus", 49, 0),
    ("vulnscan/openvas_report.xml", "openvas", 44, 0),
    ("vulnscan/trivy_image_report_alpine39.json", "trivy", 6, 0),
    ("vulnscan/trivy_image_report_spring4shell.json", "trivy", 1, 0),
    # The report has no CreatedAt, and the legacy format has no time field at all.
    ("vulnscan/trivy_image_report_teamdojo.json", "trivy", 5, 5),
    ("vulnscan/trivy_legacy_format_report.json", "trivy", 93, 93),
    ("waf/apache_combined_access.log", "apache_access", 4000, 0),
    ("waf/aws_waf_panther_tests.ndjson", "aws_waf", 18, 0),
    ("waf/modsecurity_apache_error.log", "modsecurity", 6, 0),
    ("waf/modsecurity_apache_error_f2b.log", "modsecurity", 4, 0),
    ("waf/nginx_error_http_auth.log", "nginx_error", 18, 0),
    ("waf/nginx_error_limit_req.log", "nginx_error", 9, 0),
]
SAMPLE_IDS = [Path(relative).name for relative, *_ in SAMPLES]


def _head(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as stream:
        return stream.read(HEAD_CHARS)


@pytest.mark.parametrize(("relative", "format_name", "records", "rejects"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_detected_with_source(relative, format_name, records, rejects):
    path = require_sample(relative)

    detected = detect_format(_head(path), source=relative.split("/", 1)[0])

    assert detected.name == format_name


@pytest.mark.parametrize(("relative", "format_name", "records", "rejects"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_detected_without_source(relative, format_name, records, rejects):
    path = require_sample(relative)

    detected = detect_format(_head(path))

    assert detected.name == format_name


@pytest.mark.parametrize(("relative", "format_name", "records", "rejects"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_rejects_only_records_without_timestamp(relative, format_name, records, rejects):
    path = require_sample(relative)

    results = parse_file(format_name, path, default_year=2024)
    rejected = [result for result in results if isinstance(result, Rejected)]

    assert len(results) == records
    assert len(rejected) == rejects
    for result in rejected:
        assert result.reason.startswith("missing or invalid timestamp")


@pytest.mark.parametrize(("relative", "format_name", "records", "rejects"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_parses_fully_with_fallback_time(relative, format_name, records, rejects):
    path = require_sample(relative)

    results = parse_file(format_name, path, default_year=2024, fallback_time=FALLBACK_TIME)
    rejected = [result for result in results if isinstance(result, Rejected)]
    tagged = [r for r in results if "timestamp_from_context" in r.get("tags", [])]

    assert rejected == []
    assert len(tagged) == rejects


@pytest.mark.parametrize(("relative", "format_name", "records", "rejects"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_events_have_required_fields(relative, format_name, records, rejects):
    path = require_sample(relative)

    results = parse_file(format_name, path, default_year=2024, fallback_time=FALLBACK_TIME)

    for event in results:
        assert event["@timestamp"].endswith("Z")
        assert event["event"]["dataset"].endswith(f".{format_name}")
        assert event["event"]["kind"] in ("event", "alert")
        assert isinstance(event["event"]["category"], list)
        assert isinstance(event["event"]["type"], list)
        assert event["event"]["action"]
        assert event["event"]["module"]
        assert event["event"]["original"]
        assert event["event"].get("outcome", "unknown") in ("success", "failure", "unknown")


# Allowed values from the ECS 8.x reference for the event categorization fields.
ECS_CATEGORIES = {
    "api",
    "authentication",
    "configuration",
    "database",
    "driver",
    "email",
    "file",
    "host",
    "iam",
    "intrusion_detection",
    "library",
    "malware",
    "network",
    "package",
    "process",
    "registry",
    "session",
    "threat",
    "vulnerability",
    "web",
}
ECS_TYPES = {
    "access",
    "admin",
    "allowed",
    "change",
    "connection",
    "creation",
    "deletion",
    "denied",
    "end",
    "error",
    "group",
    "indicator",
    "info",
    "installation",
    "protocol",
    "start",
    "user",
}


@pytest.mark.parametrize(("relative", "format_name", "records", "rejects"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_events_use_ecs_allowed_values(relative, format_name, records, rejects):
    path = require_sample(relative)

    results = parse_file(format_name, path, default_year=2024, fallback_time=FALLBACK_TIME)

    for event in results:
        assert set(event["event"]["category"]) <= ECS_CATEGORIES
        assert set(event["event"]["type"]) <= ECS_TYPES
