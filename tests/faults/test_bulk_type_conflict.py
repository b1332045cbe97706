"""One document of a bulk whose field conflicts with its mapping: only it is dead-lettered.

Twelve `socwb.app/1` data-access events go through the app_json normalizer and
are written as one bulk by `BulkWriter`, the writer of `socwb ingest`. Two of
them are changed after normalizing, as a faulty normalizer would emit them:

- event 7 has `host` = "db-01", a string where the ECS mapping has the object
  `host`. The engine rejects that item with `mapper_parsing_exception`.
- event 3 has `source.port` = "eighty" for a `long` field. The data streams set
  `index.mapping.ignore_malformed`, so the event is stored with the field listed
  in `_ignored`, not rejected.

A ledger of the deterministic ids of all twelve events is compared with the
data stream.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socwb.ingest.ids import document_id
from socwb.ingest.indexer import BulkWriter, Document, FileInfo, deadletter_index, to_json
from socwb.ingest.model import ParseContext, Rejected
from socwb.ingest.pipeline import event_index
from socwb.ingest.registry import get_normalizer
from socwb.search import SearchBackend

from .app_fixtures import provisioned

FIXTURES = (provisioned,)
"""Fixtures of `app_fixtures` that the tests request by name; importing them registers them."""

pytestmark = pytest.mark.node

EVENTS = 12
BAD_RECORD = 7
MALFORMED_RECORD = 3
LABEL = "/var/log/app/app-events.jsonl"


def _app_record(number: int, moment: datetime) -> str:
    record = {
        "schema": "socwb.app/1",
        "timestamp": moment.isoformat(),
        "event_id": f"evt-{number:03d}",
        "type": "data_access",
        "action": "read",
        "outcome": "success",
        "actor": {"name": f"user{number:03d}"},
        "source": {"ip": "198.51.100.7"},
        "data": {"resource": "customers", "records": number, "bytes": 1000 + number},
    }
    return json.dumps(record)


def _documents(namespace: str) -> list[Document]:
    """Return the bulk: each normalized event as `socwb ingest` builds its document."""
    start = datetime.now(UTC) - timedelta(hours=1)
    lines = [_app_record(n, start + timedelta(seconds=n)) for n in range(1, EVENTS + 1)]
    file = FileInfo(LABEL, "app", "app_json", event_index("app", "app_json", namespace))
    results = get_normalizer("app_json").parse(lines, ParseContext(source_name="app"))
    documents = []
    for number, event in enumerate(results, start=1):
        assert not isinstance(event, Rejected), event
        if number == BAD_RECORD:
            event["host"] = "db-01"
        if number == MALFORMED_RECORD:
            event["source"]["port"] = "eighty"
        documents.append(
            Document(
                kind="event",
                index=file.index,
                doc_id=document_id(event),
                body=to_json(event),
                file=file,
                line_number=number,
                record_number=number,
                original=event["event"]["original"],
            )
        )
    return documents


def _stored_ids(backend: SearchBackend, index: str) -> set[str]:
    backend.refresh(index)
    body = {"size": 1000, "_source": False, "query": {"match_all": {}}}
    return {hit["_id"] for hit in backend.search(index, body)["hits"]["hits"]}


def _ignored_fields(backend: SearchBackend, namespace: str) -> dict[str, list[str]]:
    """Return the fields the engine left unindexed, per stored event id."""
    body = {"size": 100, "_source": False, "query": {"exists": {"field": "_ignored"}}}
    hits = backend.search(event_index("app", "app_json", namespace), body)["hits"]["hits"]
    return {hit["_id"]: hit["_ignored"] for hit in hits}


def _deadletters(backend: SearchBackend, namespace: str) -> list[dict[str, Any]]:
    index = deadletter_index(namespace)
    backend.refresh(index)
    hits = backend.search(index, {"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    return [hit["_source"] for hit in hits]


def _outcomes(stored: list[tuple[Document, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, outcome in stored:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def test_bad_document_deadlettered_alone(provisioned: SearchBackend, namespace: str) -> None:
    documents = _documents(namespace)
    ledger = [document.doc_id for document in documents]
    bad = documents[BAD_RECORD - 1]
    writer = BulkWriter(provisioned, deadletter_index(namespace))

    outcome = writer.write(documents)
    stored = _stored_ids(provisioned, event_index("app", "app_json", namespace))
    deadletters = _deadletters(provisioned, namespace)

    assert len(set(ledger)) == EVENTS
    assert len(outcome.stored) == EVENTS
    assert _outcomes(outcome.stored) == {"indexed": EVENTS - 1, "index_deadlettered": 1}
    assert [
        document.line_number
        for document, result in outcome.stored
        if result == "index_deadlettered"
    ] == [BAD_RECORD]
    assert stored == set(ledger) - {bad.doc_id}
    assert len(deadletters) == 1
    assert deadletters[0]["error"]["type"] == "mapper_parsing_exception"
    assert "[host]" in deadletters[0]["error"]["message"]
    assert deadletters[0]["socwb"]["deadletter"]["line_number"] == BAD_RECORD
    assert deadletters[0]["socwb"]["deadletter"]["stage"] == "index"
    assert deadletters[0]["socwb"]["deadletter"]["file"] == LABEL
    assert deadletters[0]["event"]["original"] == bad.original
    assert _ignored_fields(provisioned, namespace) == {
        documents[MALFORMED_RECORD - 1].doc_id: ["source.port"]
    }


def test_bad_document_replay_adds_nothing(provisioned: SearchBackend, namespace: str) -> None:
    documents = _documents(namespace)
    writer = BulkWriter(provisioned, deadletter_index(namespace))

    writer.write(documents)
    replay = writer.write(documents)
    stored = _stored_ids(provisioned, event_index("app", "app_json", namespace))

    assert _outcomes(replay.stored) == {"duplicate": EVENTS - 1, "index_deadlettered": 1}
    assert replay.created_ids == []
    assert len(stored) == EVENTS - 1
    assert len(_deadletters(provisioned, namespace)) == 1
