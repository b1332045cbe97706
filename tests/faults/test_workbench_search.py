"""Hostile text in the alert queue's search: matched literally or rejected in plain words.

The queue's only free-text input is "Entity contains". Every request it causes
is recorded, so the tests check that only the alerts index is searched, only
with the allowed query types and fields, whatever the text is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from socwb.alerts.model import Alert
from socwb.alerts.store import alerts_index
from socwb.alerts.workflow import MAX_SEARCH_TEXT, QueueFilter, list_queue
from socwb.auth import Principal, Role
from socwb.search import SearchBackend

from .app_fixtures import app_state, services, signed_in_page, write_alert

FIXTURES = (services,)
"""Fixtures of `app_fixtures` that the tests request by name; importing them registers them."""

pytestmark = pytest.mark.node

ANALYST = Principal("ana", frozenset({Role.ANALYST}))
ALLOWED_FIELDS = {"severity", "rule_id", "status", "entity_key", "created_at"}
ALLOWED_QUERIES = {"bool", "terms", "wildcard", "range"}
ENTITY_VALUES = ("alice", "we*ird?na\\me", 'quote"}brace')

LITERAL_TEXTS = [
    "*",
    "?",
    "/.*/",
    "_exists_:x",
    '"unbalanced',
    "severity:critical OR 1=1",
    '"}',
    "\\",
    "ALICE",
    "we*ird?na\\me",
]
REJECTED_TEXTS = ["x" * 40_000, "a\x00b", "bell\x07", "line\nbreak", "esc\x1b[31m"]


@pytest.fixture
def requests(backend: SearchBackend, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record the method, path, parameters and body of every request to the engine."""
    recorded: list[Any] = []
    send = backend.request

    def record(method: str, path: str, **options: Any) -> Any:
        recorded.append((method, path, options.get("params"), options.get("body")))
        return send(method, path, **options)

    monkeypatch.setattr(backend, "request", record)
    yield recorded


@pytest.fixture
def alerts(backend: SearchBackend, namespace: str) -> list[Alert]:
    """One open alert per value of `ENTITY_VALUES`."""
    return [write_alert(backend, namespace, value) for value in ENTITY_VALUES]


def _query_parts(node: Any, types: set[str], fields: set[str]) -> None:
    """Collect the query types and the fields they name, walking a query clause."""
    if isinstance(node, list):
        for item in node:
            _query_parts(item, types, fields)
        return
    if not isinstance(node, Mapping):
        return
    for name, value in node.items():
        if name in ("filter", "must", "should", "must_not"):
            _query_parts(value, types, fields)
            continue
        types.add(name)
        if name == "bool":
            _query_parts(value, types, fields)
        elif isinstance(value, Mapping):
            fields.update(value.get("field", key) for key in value)


def _check_requests(requests: list[Any], namespace: str) -> None:
    types: set[str] = set()
    fields: set[str] = set()
    for method, path, _, body in requests:
        assert (method, path) == ("POST", f"/{alerts_index(namespace)}/_search")
        _query_parts(body["query"], types, fields)
    assert types <= ALLOWED_QUERIES
    assert fields <= ALLOWED_FIELDS


@pytest.mark.parametrize("text", LITERAL_TEXTS)
def test_search_text_matched_literally(
    backend: SearchBackend,
    namespace: str,
    alerts: list[Alert],
    requests: list[Any],
    text: str,
) -> None:
    expected = {alert.id for alert in alerts if text.lower() in alert.entity_key.lower()}

    page = list_queue(backend, namespace, ANALYST, QueueFilter(entity=text))

    assert {alert.id for alert in page.alerts} == expected
    assert page.total == len(expected)
    assert len(requests) == 1
    _check_requests(requests, namespace)


@pytest.mark.parametrize("text", REJECTED_TEXTS)
def test_search_text_rejected_plainly(
    backend: SearchBackend,
    namespace: str,
    alerts: list[Alert],
    requests: list[Any],
    text: str,
) -> None:
    with pytest.raises(ValueError) as caught:
        list_queue(backend, namespace, ANALYST, QueueFilter(entity=text))

    assert str(caught.value).startswith("the search text ")
    assert text not in str(caught.value)
    assert len(str(caught.value)) < 100
    assert requests == []


def test_filter_values_outside_lists_match_nothing(
    backend: SearchBackend, namespace: str, alerts: list[Alert], requests: list[Any]
) -> None:
    hostile = QueueFilter(severities=("*", "_exists_:x"), rule_ids=("/.*/", '"}'))

    page = list_queue(backend, namespace, ANALYST, hostile)

    assert page.total == 0
    _check_requests(requests, namespace)


@pytest.mark.parametrize("text", [*LITERAL_TEXTS[:4], *REJECTED_TEXTS[:2]])
def test_queue_page_survives_search_text(services: Any, alerts: list[Alert], text: str) -> None:
    app = signed_in_page(services, "pages/1_Alert_queue.py").run()

    app.text_input(key=app_state.QUEUE_ENTITY).input(text).run()
    errors = [item.value for item in app.error]

    assert not app.exception
    if len(text) > MAX_SEARCH_TEXT or not text.isprintable():
        assert len(errors) == 1
        assert errors[0].startswith("Invalid filter: the search text ")
        assert len(app.dataframe) == 0
    else:
        assert errors == []
