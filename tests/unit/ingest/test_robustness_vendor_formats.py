"""Property-based checks for the firewall, WAF, database, identity, CI/CD and EDR formats.

The registry-wide checks in `test_robustness.py` feed generic keys. These feed each
format records built from its own keys and lines shaped like its own syntax, so the
converters run past format detection on hostile values.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socwb.ingest.model import ParseContext, Rejected
from socwb.ingest.registry import get_normalizer

CONTEXT = ParseContext(default_year=2024)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
JSON_FORMAT_KEYS = {
    "cloudflare_firewall": [
        "RayID",
        "Action",
        "Source",
        "Datetime",
        "ClientIP",
        "ClientRequestPath",
        "ClientRequestQuery",
        "EdgeResponseStatus",
        "ClientCountry",
        "RuleID",
    ],
    "cloudflare_http": [
        "RayID",
        "EdgeStartTimestamp",
        "SecurityAction",
        "SecuritySources",
        "WAFAction",
        "EdgeRateLimitAction",
        "ClientIP",
        "EdgeResponseStatus",
        "ClientRequestURI",
    ],
    "postgresql_jsonlog": [
        "timestamp",
        "error_severity",
        "message",
        "backend_type",
        "user",
        "remote_host",
        "remote_port",
        "state_code",
        "pid",
    ],
    "mysql_audit": [
        "audit_record",
        "timestamp",
        "class",
        "event",
        "connection_id",
        "login",
        "account",
        "general_data",
        "connection_data",
    ],
    "keycloak": [
        "time",
        "type",
        "realmId",
        "details",
        "error",
        "operationType",
        "resourceType",
        "resourcePath",
        "representation",
        "authDetails",
    ],
    "gitlab_audit": [
        "created_at",
        "entity_type",
        "details",
        "author_id",
        "event_type",
        "author_name",
        "target_details",
        "ip_address",
    ],
    "defender_endpoint": [
        "alertCreationTime",
        "detectionSource",
        "machineId",
        "category",
        "evidence",
        "severity",
        "relatedUser",
        "mitreTechniques",
    ],
}
TIMESTAMPS = st.sampled_from(
    ["2024-03-20T10:15:05Z", "2024-03-20 10:15:05.123 UTC", 1710929705000, "x", None]
)


def _records(keys):
    values = st.one_of(json_values, TIMESTAMPS)
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


def _results_are_complete(format_name, lines):
    results = list(get_normalizer(format_name).parse(lines, CONTEXT))

    assert len(results) == len([line for line in lines if line.strip()])
    assert all(isinstance(result, (dict, Rejected)) for result in results)


@pytest.mark.parametrize("format_name", sorted(JSON_FORMAT_KEYS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_json_format_survives_own_keys(format_name, data):
    records = data.draw(st.lists(_records(JSON_FORMAT_KEYS[format_name]), max_size=4))

    _results_are_complete(format_name, [json.dumps(record) for record in records])


safe_text = st.text(max_size=40).map(lambda text: text.replace("\n", " ").replace("\r", " "))
kv_values = st.one_of(safe_text, safe_text.map(lambda text: f'"{text}"'), st.just('""'))


@settings(max_examples=80, deadline=None)
@given(
    pairs=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "subtype",
                "action",
                "srcip",
                "dstport",
                "cfgpath",
                "cfgattr",
                "eventtime",
                "tz",
                "status",
                "ui",
                "user",
                "proto",
            ]
        ),
        kv_values,
        max_size=8,
    )
)
def test_fortigate_survives_hostile_pairs(pairs):
    body = " ".join(f"{key}={value}" for key, value in pairs.items())

    _results_are_complete("fortigate", [f"date=2024-03-20 time=10:15:05 logid=1 {body}"])


@settings(max_examples=80, deadline=None)
@given(
    pairs=st.dictionaries(
        st.sampled_from(
            [
                "request_status",
                "violations",
                "sig_ids",
                "sig_names",
                "date_time",
                "ip_client",
                "src_port",
                "response_code",
                "username",
                "uri",
                "query_string",
            ]
        ),
        kv_values,
        max_size=8,
    )
)
def test_f5_asm_survives_hostile_pairs(pairs):
    body = ",".join(f"{key}={value}" for key, value in pairs.items())

    _results_are_complete("f5_asm", [f'Mar 20 10:15:05 bigip ASM:unit_hostname="b",{body}'])


csv_cells = st.lists(
    st.one_of(safe_text.map(lambda text: text.replace(",", " ")), st.just(""), st.just('"a,b"')),
    max_size=65,
)


@pytest.mark.parametrize("log_type", ["TRAFFIC", "THREAT", "CONFIG", "SYSTEM", "GLOBALPROTECT"])
@settings(max_examples=40, deadline=None)
@given(cells=csv_cells)
def test_panos_survives_hostile_columns(log_type, cells):
    head = f"1,2024/03/20 10:15:05,0128,{log_type},sub,0,2024/03/20 10:15:04"

    _results_are_complete("panos", [",".join([head, *cells])])


@settings(max_examples=60, deadline=None)
@given(cells=csv_cells)
def test_postgresql_csvlog_survives_hostile_columns(cells):
    _results_are_complete("postgresql_csvlog", [",".join(["2024-03-20 10:15:05 UTC", *cells])])


@settings(max_examples=60, deadline=None)
@given(message=safe_text)
def test_mssql_errorlog_survives_hostile_messages(message):
    _results_are_complete("mssql_errorlog", [f"2024-03-20 10:15:05.12 Logon       {message}"])
