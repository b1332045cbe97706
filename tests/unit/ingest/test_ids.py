"""Deterministic document ids."""

from __future__ import annotations

import json

from socwb.ingest.ids import document_id


def _event(parse_lines, record):
    [event] = parse_lines("okta", [json.dumps(record)])
    return event


RECORD = {
    "uuid": "u-1",
    "published": "2024-01-01T00:00:00Z",
    "eventType": "user.session.start",
    "actor": {"alternateId": "a@example.com"},
    "outcome": {"result": "SUCCESS"},
}


def test_document_id_is_stable_across_parses(parse_lines):
    first = document_id(_event(parse_lines, RECORD))
    second = document_id(_event(parse_lines, dict(RECORD)))

    assert first == second
    assert len(first) == 64


def test_document_id_known_value_for_vendor_id(parse_lines):
    event = _event(parse_lines, RECORD)

    assert document_id(event) == document_id(
        {
            "@timestamp": "2024-01-01T00:00:00.000Z",
            "event": {"dataset": "idp.okta", "id": "u-1", "action": "user.session.start"},
        }
    )


def test_document_id_differs_for_different_vendor_ids(parse_lines):
    other = dict(RECORD, uuid="u-2")

    assert document_id(_event(parse_lines, RECORD)) != document_id(_event(parse_lines, other))


def test_document_id_reused_id_later_differs(parse_lines):
    later = dict(RECORD, published="2024-01-02T00:00:00Z")

    assert document_id(_event(parse_lines, RECORD)) != document_id(_event(parse_lines, later))


def test_document_id_without_vendor_id_hashes_original(parse_lines):
    line_a = '2012/04/09 11:53:29 [error] 1#0: *1 user "a": password mismatch, client: 192.0.2.1'
    line_b = line_a.replace('"a"', '"b"')

    [event_a] = parse_lines("nginx_error", [line_a])
    [event_b] = parse_lines("nginx_error", [line_b])
    [again_a] = parse_lines("nginx_error", [line_a])

    assert document_id(event_a) == document_id(again_a)
    assert document_id(event_a) != document_id(event_b)


def test_document_id_differs_between_datasets():
    base = {"event": {"dataset": "idp.okta", "original": "x"}}
    other = {"event": {"dataset": "app.auth0", "original": "x"}}

    assert document_id(base) != document_id(other)
