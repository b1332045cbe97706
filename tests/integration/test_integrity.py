"""Digests, the hash-chained ledger and the verify command against a live engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from socwb.catalogue import Catalogue, load_catalogue
from socwb.commands.verify import verify as verify_command
from socwb.integrity import (
    DigestBuilder,
    compute_digest,
    export_ledger,
    ledger_index,
    list_backing_indices,
    record_digests,
    verify,
)
from socwb.search import SearchBackend
from socwb.settings import Settings

pytestmark = pytest.mark.node

DOCUMENT_COUNT = 25


@pytest.fixture
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def data_stream(backend: SearchBackend, namespace: str) -> str:
    """A log data stream of the `app` source (365 days retention) with documents."""
    name = f"logs-app.app_json-{namespace}"
    backend.put_index_template(
        f"socwb-integrity-test-{namespace}",
        {
            "index_patterns": [name],
            "data_stream": {},
            "priority": 500,
            "template": {
                "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
                "mappings": {
                    "properties": {
                        "@timestamp": {"type": "date"},
                        "event": {"properties": {"ingested": {"type": "date"}}},
                    }
                },
            },
        },
    )
    _write_documents(backend, name, DOCUMENT_COUNT)
    return name


def _write_documents(backend: SearchBackend, data_stream: str, count: int) -> None:
    operations: list[dict[str, object]] = []
    for number in range(count):
        operations.append({"create": {"_index": data_stream}})
        operations.append(
            {
                "@timestamp": f"2026-01-01T00:{number // 60:02d}:{number % 60:02d}Z",
                "event": {"ingested": "2026-01-01T01:00:00Z"},
                "message": f"login {number}",
            }
        )
    result, _ = backend.bulk(operations, refresh=True)
    assert result.created == count


def _backing_index(backend: SearchBackend, namespace: str, position: int = 0) -> str:
    return list_backing_indices(backend, namespace)[position].name


def _first_document_id(backend: SearchBackend, index: str) -> str:
    hits = backend.search(index, {"size": 1, "sort": ["_doc"]})["hits"]["hits"]
    return str(hits[0]["_id"])


def _now() -> datetime:
    return datetime.now(UTC)


def test_digest_matches_documents_in_any_order(
    backend: SearchBackend, namespace: str, data_stream: str
) -> None:
    index = _backing_index(backend, namespace)
    hits = backend.search(index, {"size": 100, "sort": ["_doc"]})["hits"]["hits"]
    expected = DigestBuilder()
    for hit in reversed(hits):
        expected.add(hit["_id"], hit["_source"])

    digest = compute_digest(backend, index)

    assert digest.doc_count == DOCUMENT_COUNT
    assert digest.content_hash == expected.content_hash
    assert digest.max_timestamp == datetime(2026, 1, 1, 0, 0, 24, tzinfo=UTC)
    assert digest.max_ingested == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)


def test_digest_pages_through_more_than_one_page(
    backend: SearchBackend, namespace: str, data_stream: str
) -> None:
    index = _backing_index(backend, namespace)
    whole = compute_digest(backend, index)

    paged = compute_digest(backend, index, page_size=4)

    assert paged == whole


def test_record_writes_chained_entries(
    backend: SearchBackend, namespace: str, data_stream: str
) -> None:
    first = record_digests(backend, namespace, _now())
    second = record_digests(backend, namespace, _now())

    assert [entry.sequence for entry in first + second] == [0, 1]
    assert second[0].previous_hash == first[0].entry_hash
    assert first[0].data_stream == data_stream
    assert first[0].is_write_index is True
    assert first[0].doc_count == DOCUMENT_COUNT
    assert backend.count(ledger_index(namespace)) == 2


def test_untouched_data_has_no_findings(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    record_digests(backend, namespace, _now())

    report = verify(backend, namespace, catalogue, _now())

    assert report.findings == []
    assert report.ledger_entries == 1
    assert report.indices_checked == 1


def test_growth_of_write_index_is_accepted(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    record_digests(backend, namespace, _now())
    _write_documents(backend, data_stream, 3)

    report = verify(backend, namespace, catalogue, _now())

    assert report.findings == []


def test_updated_document_reports_changed_index(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    index = _backing_index(backend, namespace)
    record_digests(backend, namespace, _now())
    doc_id = _first_document_id(backend, index)
    backend.request(
        "POST",
        f"/{index}/_update/{doc_id}",
        params={"refresh": "true"},
        body={"doc": {"message": "rewritten"}},
    )

    report = verify(backend, namespace, catalogue, _now())

    assert [(finding.kind, finding.index) for finding in report.findings] == [("changed", index)]


def test_deleted_document_in_sealed_index_reports_changed(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    backend.request("POST", f"/{data_stream}/_rollover")
    record_digests(backend, namespace, _now())
    sealed = _backing_index(backend, namespace, 0)
    doc_id = _first_document_id(backend, sealed)
    backend.request("DELETE", f"/{sealed}/_doc/{doc_id}", params={"refresh": "true"})

    report = verify(backend, namespace, catalogue, _now())

    assert [(finding.kind, finding.index) for finding in report.findings] == [("changed", sealed)]
    assert "25 documents" in report.findings[0].message


def test_index_deleted_before_retention_is_reported(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    record_digests(backend, namespace, _now())
    backend.request("POST", f"/{data_stream}/_rollover")
    first = _backing_index(backend, namespace, 0)
    assert backend.delete(f"/{first}")

    report = verify(backend, namespace, catalogue, _now())

    assert [(finding.kind, finding.index) for finding in report.findings] == [
        ("deleted_early", first)
    ]
    assert "365 days" in report.findings[0].message


def test_missing_entry_keeps_early_deletion_reported(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    record_digests(backend, namespace, _now())
    backend.request("POST", f"/{data_stream}/_rollover")
    first = _backing_index(backend, namespace, 0)
    backend.delete(f"/{first}")
    written = record_digests(backend, namespace, _now())

    later = _now() + timedelta(days=400)
    report = verify(backend, namespace, catalogue, later)

    assert [entry.kind for entry in written] == ["digest", "missing"]
    assert [(finding.kind, finding.index) for finding in report.findings] == [
        ("deleted_early", first)
    ]


def test_deletion_after_retention_is_accepted(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    backend.request("POST", f"/{data_stream}/_rollover")
    record_digests(backend, namespace, _now())
    first = _backing_index(backend, namespace, 0)
    backend.delete(f"/{first}")

    report = verify(backend, namespace, catalogue, _now() + timedelta(days=366))

    assert report.findings == []


def test_edited_ledger_entry_breaks_chain(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    record_digests(backend, namespace, _now())
    record_digests(backend, namespace, _now())
    ledger = ledger_index(namespace)
    backend.request(
        "POST",
        f"/{ledger}/_update/000000000000",
        params={"refresh": "true"},
        body={"doc": {"doc_count": 26}},
    )

    report = verify(backend, namespace, catalogue, _now())

    kinds = [finding.kind for finding in report.findings]
    assert kinds == ["chain_broken"]
    assert "entry 0 was modified" in report.findings[0].message


def test_removed_ledger_entry_breaks_chain(
    backend: SearchBackend, namespace: str, data_stream: str, catalogue: Catalogue
) -> None:
    for _ in range(3):
        record_digests(backend, namespace, _now())
    ledger = ledger_index(namespace)
    backend.request("DELETE", f"/{ledger}/_doc/000000000001", params={"refresh": "true"})

    report = verify(backend, namespace, catalogue, _now())

    messages = [finding.message for finding in report.findings]
    assert report.findings
    assert {finding.kind for finding in report.findings} == {"chain_broken"}
    assert any("expected ledger entry 1 but found 2" in message for message in messages)


def test_replayed_entry_cannot_overwrite(
    backend: SearchBackend, namespace: str, data_stream: str
) -> None:
    from socwb.errors import ConflictError

    entry = record_digests(backend, namespace, _now())[0]

    with pytest.raises(ConflictError):
        backend.index_document(
            ledger_index(namespace), entry.model_dump(mode="json"), doc_id=entry.doc_id
        )


def test_export_writes_lines_and_checksum(
    backend: SearchBackend, namespace: str, data_stream: str, tmp_path: Path
) -> None:
    import hashlib

    written = record_digests(backend, namespace, _now())
    target = tmp_path / "ledger.jsonl"

    exported = export_ledger(backend, namespace, target)

    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["entry_hash"] for line in lines] == [written[0].entry_hash]
    assert exported.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert exported.checksum_path.read_text() == f"{exported.sha256}  ledger.jsonl\n"
    assert exported.head_hash == written[0].entry_hash


def test_command_exits_zero_on_untouched_data(
    backend: SearchBackend, settings: Settings, data_stream: str
) -> None:
    result = CliRunner().invoke(verify_command, ["--record", "--format", "json"], obj=settings)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert report["indices_checked"] == 1


def test_command_exits_one_on_findings(
    backend: SearchBackend, settings: Settings, namespace: str, data_stream: str
) -> None:
    record_digests(backend, namespace, _now())
    backend.request("POST", f"/{data_stream}/_rollover")
    backend.delete(f"/{_backing_index(backend, namespace, 0)}")

    result = CliRunner().invoke(verify_command, [], obj=settings)

    assert result.exit_code == 1
    assert "deleted_early" in result.stdout
