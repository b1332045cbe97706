"""F5 BIG-IP ASM request logs in the key-value format."""

from __future__ import annotations

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "f5_asm.log"


def _event_with_support_id(support_id, **context):
    context.setdefault("default_timezone", "Europe/Berlin")
    for event in events_of(parse_file("f5_asm", SAMPLE, **context)):
        if field(event, "event.id") == support_id:
            return event
    raise AssertionError(f"no event with support_id {support_id}")


def test_f5_sample_parses_completely():
    results = parse_file("f5_asm", SAMPLE, default_timezone="Europe/Berlin")

    assert len(results) == 3
    assert not [result for result in results if isinstance(result, Rejected)]


def test_f5_blocked_sql_injection():
    event = _event_with_support_id("18205860747014045721")

    assert event["@timestamp"] == "2024-03-20T09:15:05.000Z"
    assert field(event, "event.action") == "request-blocked"
    assert field(event, "event.category") == ["web", "intrusion_detection"]
    assert field(event, "event.type") == ["denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.dataset") == "waf.f5_asm"
    assert field(event, "host.name") == "bigip1.example.com"
    assert field(event, "source.ip") == "203.0.113.50"
    assert field(event, "source.port") == 51515
    assert field(event, "destination.ip") == "192.0.2.20"
    assert field(event, "rule.id") == "200002147"
    assert field(event, "rule.name") == 'SQL-INJ expressions like "\' or 1 --",SQL-INJ UNION SELECT'
    assert field(event, "f5.asm.signature_ids") == ["200002147", "200002148"]
    assert field(event, "f5.asm.violations") == [
        "Attack signature detected",
        "Illegal meta character in value",
    ]
    assert field(event, "f5.asm.attack_type") == "SQL-Injection"
    assert field(event, "socwb.alert.severity") == "Critical"
    assert field(event, "url.original") == "/products.php?id=1%27%20OR%201=1--"
    assert field(event, "http.response.status_code") is None
    assert field(event, "user.name") is None
    assert field(event, "event.original").startswith("<131>Mar 20 10:15:05 bigip1")


def test_f5_alerted_violation_is_rule_match():
    event = _event_with_support_id("18205860747014045722")

    assert event["@timestamp"] == "2024-03-20T09:16:40.000Z"
    assert field(event, "event.action") == "rule-matched"
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "alice"
    assert field(event, "rule.name") == "Illegal file type"
    assert field(event, "http.response.status_code") == 404


def test_f5_passed_request_without_violations():
    event = _event_with_support_id("18205860747014045723")

    assert field(event, "event.action") == "request-allowed"
    assert field(event, "event.category") == ["web"]
    assert field(event, "event.type") == ["allowed"]
    assert field(event, "f5.asm.violations") is None


def test_f5_date_time_uses_default_timezone():
    event = _event_with_support_id("18205860747014045721", default_timezone="UTC")

    assert event["@timestamp"] == "2024-03-20T10:15:05.000Z"


def test_f5_without_date_time_needs_default_year(parse_lines):
    line = '<131>Mar 20 10:15:05 bigip1 ASM:support_id="1",request_status="blocked"'

    [rejected] = parse_lines("f5_asm", [line])
    [event] = parse_lines("f5_asm", [line], default_year=2023)

    assert isinstance(rejected, Rejected)
    assert "has no year" in rejected.reason
    assert event["@timestamp"] == "2023-03-20T10:15:05.000Z"


def test_f5_line_without_asm_marker_is_rejected(parse_lines):
    [result] = parse_lines("f5_asm", ["Mar 20 10:15:05 bigip1 tmm[123]: pool member down"])

    assert isinstance(result, Rejected)
    assert "not an F5 ASM key-value message" in result.reason


@pytest.mark.parametrize("source", [None, "waf"])
def test_f5_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "f5_asm"
