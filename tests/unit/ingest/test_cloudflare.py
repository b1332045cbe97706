"""Cloudflare Logpush normalization: firewall events and HTTP request records."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

FIREWALL = TEST_DATA / "cloudflare_firewall.ndjson"
HTTP = TEST_DATA / "cloudflare_http.ndjson"


def _event_with_ray(format_name, path, ray_id):
    for event in events_of(parse_file(format_name, path)):
        if field(event, "event.id") == ray_id:
            return event
    raise AssertionError(f"no event with RayID {ray_id}")


def test_firewall_sample_parses_completely():
    results = parse_file("cloudflare_firewall", FIREWALL)

    assert len(results) == 4
    assert not [result for result in results if isinstance(result, Rejected)]


def test_firewall_managed_rule_block():
    event = _event_with_ray("cloudflare_firewall", FIREWALL, "86a1b2c3d4e5f601")

    assert event["@timestamp"] == "2024-03-20T10:15:05.000Z"
    assert field(event, "event.action") == "request-blocked"
    assert field(event, "event.category") == ["web", "intrusion_detection"]
    assert field(event, "event.type") == ["denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.dataset") == "waf.cloudflare_firewall"
    assert field(event, "source.ip") == "203.0.113.45"
    assert field(event, "source.geo.country_iso_code") == "NL"
    assert field(event, "rule.id") == "5de7edfa648c4d6891dc3e7f84534ffa"
    assert field(event, "rule.description") == "SQLi - UNION based"
    assert field(event, "url.original") == "/wp-login.php?action=login"
    assert field(event, "http.request.method") == "POST"
    assert field(event, "cloudflare.source") == "firewallManaged"
    assert json.loads(field(event, "event.original"))["RayID"] == "86a1b2c3d4e5f601"


def test_firewall_rate_limit_rule_with_epoch_nanoseconds():
    event = _event_with_ray("cloudflare_firewall", FIREWALL, "86a1b2c3d4e5f602")

    assert event["@timestamp"] == "2024-03-20T10:15:10.000Z"
    assert field(event, "event.action") == "rate-limited"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "198.51.100.7"
    assert field(event, "http.response.status_code") == 429


def test_firewall_managed_challenge():
    event = _event_with_ray("cloudflare_firewall", FIREWALL, "86a1b2c3d4e5f603")

    assert field(event, "event.action") == "request-challenged"
    assert field(event, "event.type") == ["denied"]
    assert field(event, "source.ip") == "2001:db8::25"


def test_firewall_log_action_is_rule_match():
    event = _event_with_ray("cloudflare_firewall", FIREWALL, "86a1b2c3d4e5f604")

    assert field(event, "event.action") == "rule-matched"
    assert field(event, "event.type") == ["info"]
    assert field(event, "event.outcome") == "success"


def test_http_waf_block():
    event = _event_with_ray("cloudflare_http", HTTP, "86b0000000000001")

    assert event["@timestamp"] == "2024-03-21T08:00:01.120Z"
    assert field(event, "event.action") == "request-blocked"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "192.0.2.80"
    assert field(event, "source.port") == 40112
    assert field(event, "rule.id") == "6179ae15870a4bb7b2d480d4843b323c"
    assert field(event, "url.original") == "/login?next=%2Faccount"
    assert field(event, "cloudflare.waf_attack_score") == 8


def test_http_edge_rate_limit():
    event = _event_with_ray("cloudflare_http", HTTP, "86b0000000000002")

    assert event["@timestamp"] == "2024-03-21T08:00:04.900Z"
    assert field(event, "event.action") == "rate-limited"
    assert field(event, "event.type") == ["denied"]
    assert field(event, "rule.id") == "372812"
    assert field(event, "cloudflare.source") == "ratelimit"


def test_http_request_without_security_action():
    event = _event_with_ray("cloudflare_http", HTTP, "86b0000000000003")

    assert field(event, "event.action") == "request"
    assert field(event, "event.type") == ["access"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "http.response.bytes") == 10240


def test_http_deprecated_waf_action(parse_lines):
    record = {
        "RayID": "86b0000000000009",
        "EdgeStartTimestamp": 1711008000,
        "ClientIP": "192.0.2.90",
        "WAFAction": "drop",
        "WAFRuleID": "100015",
        "EdgeResponseStatus": 403,
    }

    [event] = parse_lines("cloudflare_http", [json.dumps(record)])

    assert event["@timestamp"] == "2024-03-21T08:00:00.000Z"
    assert field(event, "event.action") == "request-blocked"
    assert field(event, "rule.id") == "100015"
    assert field(event, "cloudflare.source") == "waf"


def test_firewall_record_without_time_is_rejected(parse_lines):
    record = {"RayID": "86a1", "Action": "block", "Source": "waf", "ClientIP": "192.0.2.1"}

    [result] = parse_lines("cloudflare_firewall", [json.dumps(record)])

    assert isinstance(result, Rejected)
    assert "no valid Datetime field" in result.reason


@pytest.mark.parametrize(
    ("path", "expected"),
    [(FIREWALL, "cloudflare_firewall"), (HTTP, "cloudflare_http")],
    ids=["firewall", "http"],
)
def test_cloudflare_detected(path, expected):
    head = path.read_text(encoding="utf-8")

    assert detect_format(head).name == expected
    assert detect_format(head, source="waf").name == expected
