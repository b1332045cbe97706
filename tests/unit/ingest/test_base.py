"""Behaviour shared by all normalizers: decoding, limits and rejections."""

from __future__ import annotations

import json

from socwb.ingest.formats._base import MAX_ORIGINAL_CHARS
from socwb.ingest.model import Rejected

from .conftest import field

OKTA = {
    "uuid": "u-1",
    "published": "2024-01-01T00:00:00Z",
    "eventType": "user.session.start",
    "actor": {"alternateId": "a@example.com"},
}


def test_invalid_json_reason_names_column(parse_lines):
    [result] = parse_lines("okta", ['{"uuid": "u-1" "published": 1}'])

    assert isinstance(result, Rejected)
    assert result.reason == "invalid JSON at column 16: Expecting ',' delimiter"
    assert result.line_number == 1


def test_json_array_line_is_rejected(parse_lines):
    [result] = parse_lines("okta", ["[1, 2]"])

    assert result.reason == "expected a JSON object, found list"


def test_wrong_types_do_not_raise(parse_lines):
    record = dict(OKTA, actor="not an object", client=["x"], outcome=7, target="t")

    [event] = parse_lines("okta", [json.dumps(record)])

    assert field(event, "user.name") is None
    assert field(event, "event.outcome") == "unknown"


def test_huge_record_original_is_truncated(parse_lines):
    record = dict(OKTA, displayMessage="x" * (MAX_ORIGINAL_CHARS * 2))
    line = json.dumps(record)

    [event] = parse_lines("okta", [line])

    assert len(event["event"]["original"]) == MAX_ORIGINAL_CHARS
    assert field(event, "socwb.event.original_truncated") is True
    assert field(event, "socwb.event.original_length") == len(line)
    assert len(field(event, "event.hash")) == 64


def test_invalid_utf8_is_replaced(parse_lines):
    text = json.dumps(dict(OKTA, displayMessage="caf\u00e9"), ensure_ascii=False)
    line = text.encode().replace(b"\xc3\xa9", b"\xff")

    [event] = parse_lines("okta", [line])

    assert field(event, "message") == "caf\ufffd"


def test_blank_lines_yield_nothing_and_keep_line_numbers(parse_lines):
    results = parse_lines("okta", ["\n", json.dumps(OKTA) + "\n", "   \n", "{bad\n"])

    assert len(results) == 2
    assert results[1].line_number == 4


def test_host_name_override(parse_lines):
    line = '2012/04/09 11:53:29 [error] 1#0: *1 user "a": password mismatch, client: 192.0.2.1'

    [event] = parse_lines("nginx_error", [line], host_name="web-07")

    assert field(event, "host.name") == "web-07"
    assert field(event, "related.hosts") == ["web-07"]


def test_related_lists_collect_users_and_ips(parse_lines):
    record = dict(
        OKTA,
        client={"ipAddress": "198.51.100.4"},
        target=[{"type": "User", "alternateId": "b@example.com"}],
    )

    [event] = parse_lines("okta", [json.dumps(record)])

    assert field(event, "related.ip") == ["198.51.100.4"]
    assert field(event, "related.user") == ["b@example.com", "a@example.com"]
