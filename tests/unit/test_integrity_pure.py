"""Pure parts of tamper evidence and snapshot retention: hashing, chain, rules, formatting."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socwb.catalogue import load_catalogue
from socwb.commands.snapshot import format_snapshot_table
from socwb.commands.verify import format_report_table
from socwb.errors import ConfigurationError
from socwb.integrity import (
    GENESIS_HASH,
    ChainChecker,
    DigestBuilder,
    Finding,
    IndexDigest,
    LedgerEntry,
    VerificationReport,
    canonical_json,
    check_deletion,
    compare_digest,
    compute_entry_hash,
    document_hash,
    newest_write_bound,
    retention_for_data_stream,
    write_ledger_lines,
)
from socwb.snapshots import (
    SnapshotInfo,
    SnapshotRetention,
    select_expired,
    shared_repo_path,
    snapshot_name,
)

RECORDED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DOCUMENTS = [
    ("a", {"message": "one", "event": {"kind": "event"}}),
    ("b", {"message": "two", "n": 1.5}),
    ("c", {"message": "drei ü", "tags": ["x", "y"]}),
]


def _entry(**fields: object) -> LedgerEntry:
    values: dict[str, object] = {
        "sequence": 0,
        "kind": "digest",
        "namespace": "default",
        "index": ".ds-logs-app.app_json-default-000001",
        "data_stream": "logs-app.app_json-default",
        "is_write_index": False,
        "doc_count": 10,
        "content_hash": "ab" * 32,
        "index_created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "max_timestamp": datetime(2026, 2, 1, tzinfo=UTC),
        "max_ingested": datetime(2026, 2, 2, tzinfo=UTC),
        "recorded_at": RECORDED_AT,
        "previous_hash": GENESIS_HASH,
    }
    values.update(fields)
    return LedgerEntry.model_validate(values)


def _chain(length: int) -> list[dict]:
    sources = []
    previous = GENESIS_HASH
    for sequence in range(length):
        entry = _entry(sequence=sequence, previous_hash=previous).sealed()
        sources.append(entry.model_dump(mode="json"))
        previous = entry.entry_hash
    return sources


def _check(sources: list[dict]) -> ChainChecker:
    checker = ChainChecker()
    for source in sources:
        checker.add(source)
    return checker


# ----------------------------------------------------------------- hashing


def test_canonical_json_sorts_keys_without_spaces() -> None:
    assert (
        canonical_json({"b": 1, "a": [1, {"d": 2, "c": "ü"}]}) == '{"a":[1,{"c":"ü","d":2}],"b":1}'
    )


def test_document_hash_ignores_key_order() -> None:
    assert document_hash("x", {"a": 1, "b": 2}) == document_hash("x", {"b": 2, "a": 1})


def test_document_hash_separates_id_and_source() -> None:
    assert document_hash("ab", "c") != document_hash("a", "bc")


def test_document_hash_is_sha256_of_id_and_source() -> None:
    expected = hashlib.sha256(b'["x",{"a":1}]').digest()

    assert document_hash("x", {"a": 1}) == int.from_bytes(expected, "big")


def test_digest_is_order_independent() -> None:
    hashes = set()
    for order in itertools.permutations(DOCUMENTS):
        builder = DigestBuilder()
        for doc_id, source in order:
            builder.add(doc_id, source)
        hashes.add((builder.doc_count, builder.content_hash))

    assert len(hashes) == 1
    assert next(iter(hashes))[0] == 3


def test_digest_changes_with_one_field() -> None:
    original, edited = DigestBuilder(), DigestBuilder()
    for doc_id, source in DOCUMENTS:
        original.add(doc_id, source)
        edited.add(doc_id, {**source, "message": "x"} if doc_id == "b" else source)

    assert original.doc_count == edited.doc_count
    assert original.content_hash != edited.content_hash


def test_digest_hash_is_64_hex_digits() -> None:
    builder = DigestBuilder()

    assert builder.content_hash == "0" * 64
    builder.add("a", {})
    assert len(builder.content_hash) == 64
    int(builder.content_hash, 16)


def test_duplicate_documents_do_not_cancel() -> None:
    builder = DigestBuilder()
    builder.add("a", {"x": 1})
    builder.add("a", {"x": 1})

    assert builder.content_hash != "0" * 64


# ------------------------------------------------------------------- chain


def test_entry_hash_ignores_stored_entry_hash() -> None:
    body = {"sequence": 0, "previous_hash": GENESIS_HASH}

    assert compute_entry_hash(GENESIS_HASH, body) == compute_entry_hash(
        GENESIS_HASH, {**body, "entry_hash": "anything"}
    )


def test_sealed_entry_hash_covers_previous_hash() -> None:
    body = _entry().model_dump(mode="json")
    del body["entry_hash"]
    text = GENESIS_HASH + canonical_json(body)

    assert _entry().sealed().entry_hash == hashlib.sha256(text.encode()).hexdigest()


def test_intact_chain_has_no_findings() -> None:
    checker = _check(_chain(4))

    assert checker.findings == []
    assert checker.expected_sequence == 4


def test_edited_entry_breaks_chain() -> None:
    sources = _chain(3)
    sources[1]["doc_count"] = 11

    findings = _check(sources).findings

    assert [finding.message for finding in findings] == [
        "ledger entry 1 was modified: its entry_hash does not match"
    ]


def test_edited_and_rehashed_entry_breaks_next_link() -> None:
    sources = _chain(3)
    sources[1]["doc_count"] = 11
    sources[1]["entry_hash"] = compute_entry_hash(sources[1]["previous_hash"], sources[1])

    findings = _check(sources).findings

    assert len(findings) == 1
    assert "ledger entry 2 does not link" in findings[0].message


def test_removed_entry_breaks_chain() -> None:
    sources = _chain(3)
    del sources[1]

    messages = [finding.message for finding in _check(sources).findings]

    assert "expected ledger entry 1 but found 2: entries were removed or renumbered" in messages
    assert any("does not link" in message for message in messages)


# ----------------------------------------------------------- content rules


def _digest(count: int, content_hash: str) -> IndexDigest:
    return IndexDigest(
        doc_count=count, content_hash=content_hash, max_timestamp=None, max_ingested=None
    )


@pytest.mark.parametrize(
    ("is_write_index", "count", "content_hash", "is_reported"),
    [
        pytest.param(False, 10, "ab" * 32, False, id="sealed-same"),
        pytest.param(False, 10, "cd" * 32, True, id="sealed-edited"),
        pytest.param(False, 11, "cd" * 32, True, id="sealed-grew"),
        pytest.param(False, 9, "cd" * 32, True, id="sealed-shrank"),
        pytest.param(True, 10, "ab" * 32, False, id="write-same"),
        pytest.param(True, 12, "cd" * 32, False, id="write-grew"),
        pytest.param(True, 10, "cd" * 32, True, id="write-edited"),
        pytest.param(True, 9, "cd" * 32, True, id="write-shrank"),
    ],
)
def test_compare_digest(
    is_write_index: bool, count: int, content_hash: str, is_reported: bool
) -> None:
    recorded = _entry(is_write_index=is_write_index)

    finding = compare_digest(recorded, _digest(count, content_hash))

    assert (finding is not None) == is_reported
    if finding is not None:
        assert finding.kind == "changed"
        assert finding.index == recorded.index


def test_newest_write_uses_latest_seen_document() -> None:
    assert newest_write_bound(_entry()) == datetime(2026, 2, 2, tzinfo=UTC)


def test_newest_write_caps_future_timestamps() -> None:
    entry = _entry(max_timestamp=datetime(2030, 1, 1, tzinfo=UTC), max_ingested=None)

    assert newest_write_bound(entry) == RECORDED_AT


def test_newest_write_of_write_index_is_recording_time() -> None:
    assert newest_write_bound(_entry(is_write_index=True)) == RECORDED_AT


def test_newest_write_of_empty_index_is_creation() -> None:
    entry = _entry(doc_count=0, max_timestamp=None, max_ingested=None)

    assert newest_write_bound(entry) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("deleted_by", "is_reported"),
    [
        pytest.param(datetime(2026, 6, 1, tzinfo=UTC), True, id="months-early"),
        pytest.param(datetime(2027, 2, 1, 23, 59, tzinfo=UTC), True, id="one-minute-early"),
        pytest.param(datetime(2027, 2, 2, tzinfo=UTC), False, id="exactly-at-end"),
        pytest.param(datetime(2028, 1, 1, tzinfo=UTC), False, id="after-end"),
    ],
)
def test_check_deletion(deleted_by: datetime, is_reported: bool) -> None:
    finding = check_deletion(_entry(), timedelta(days=365), deleted_by)

    assert (finding is not None) == is_reported
    if finding is not None:
        assert finding.kind == "deleted_early"
        assert "2027-02-02" in finding.message


def test_deletion_without_retention_is_reported() -> None:
    finding = check_deletion(_entry(), None, datetime(2040, 1, 1, tzinfo=UTC))

    assert finding is not None
    assert "no catalogue source" in finding.message


@pytest.mark.parametrize(
    ("data_stream", "days"),
    [
        pytest.param("logs-app.app_json-default", 365, id="source"),
        pytest.param("logs-edr.no_such_format-default", None, id="unknown-format"),
        pytest.param("logs-socwb.deadletter-default", 365, id="deadletter"),
        pytest.param("logs-app.app_json-other", None, id="other-namespace"),
        pytest.param("metrics-app.app_json-default", None, id="not-logs"),
    ],
)
def test_retention_for_data_stream(data_stream: str, days: int | None) -> None:
    retention = retention_for_data_stream(load_catalogue(), data_stream, "default")

    assert retention == (timedelta(days=days) if days is not None else None)


# ------------------------------------------------------- export and output


def test_write_ledger_lines_hashes_file(tmp_path: Path) -> None:
    sources = _chain(2)
    target = tmp_path / "ledger.jsonl"

    sha256, count, head = write_ledger_lines(sources, target)

    assert sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert count == 2
    assert head == sources[-1]["entry_hash"]
    assert [json.loads(line) for line in target.read_text().splitlines()] == sources


def test_report_table_lists_findings() -> None:
    report = VerificationReport(
        namespace="default",
        checked_at=RECORDED_AT,
        ledger_entries=3,
        head_hash="ff" * 32,
        indices_checked=2,
        findings=[Finding(kind="changed", index=".ds-x", message="content changed")],
    )

    table = format_report_table(report)

    assert "findings:         1" in table
    assert "changed" in table
    assert ".ds-x" in table
    assert report.to_dict()["findings"] == [
        {"kind": "changed", "index": ".ds-x", "message": "content changed"}
    ]


# ------------------------------------------------------ snapshot retention


def _snapshot(day: int, state: str = "SUCCESS") -> SnapshotInfo:
    return SnapshotInfo(
        name=f"socwb-default-{day:02d}",
        state=state,
        started_at=datetime(2026, 1, day, tzinfo=UTC),
        indices=(),
        data_streams=(),
    )


def _names(items: list[SnapshotInfo]) -> list[str]:
    return [item.name[-2:] for item in items]


def test_keep_last_deletes_oldest() -> None:
    snapshots = [_snapshot(day) for day in (3, 1, 2, 4)]

    expired = select_expired(snapshots, SnapshotRetention(keep_last=2), RECORDED_AT)

    assert _names(expired) == ["01", "02"]


def test_max_age_deletes_old_snapshots() -> None:
    snapshots = [_snapshot(day) for day in (1, 10, 20)]
    now = datetime(2026, 1, 25, tzinfo=UTC)

    expired = select_expired(snapshots, SnapshotRetention(max_age=timedelta(days=10)), now)

    assert _names(expired) == ["01", "10"]


def test_newest_snapshot_is_never_deleted() -> None:
    snapshots = [_snapshot(1), _snapshot(2)]

    expired = select_expired(
        snapshots, SnapshotRetention(max_age=timedelta(days=1)), datetime(2030, 1, 1, tzinfo=UTC)
    )

    assert _names(expired) == ["01"]


def test_newest_successful_snapshot_is_kept() -> None:
    snapshots = [_snapshot(1), _snapshot(2), _snapshot(3, state="FAILED")]

    expired = select_expired(snapshots, SnapshotRetention(keep_last=1), RECORDED_AT)

    assert _names(expired) == ["01"]


def test_empty_repository_expires_nothing() -> None:
    assert select_expired([], SnapshotRetention(keep_last=1), RECORDED_AT) == []


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"keep_last": 0}, id="keep-zero"),
        pytest.param({"max_age": timedelta(0)}, id="zero-age"),
    ],
)
def test_invalid_retention_is_rejected(arguments: dict) -> None:
    with pytest.raises(ValueError, match="invalid"):
        SnapshotRetention(**arguments)


def test_snapshot_name_is_lowercase_utc() -> None:
    name = snapshot_name("default", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    assert name == "socwb-default-20260102t030405000000z"


def test_snapshot_table_has_one_line_per_snapshot() -> None:
    table = format_snapshot_table([_snapshot(1), _snapshot(2)])

    assert len(table.splitlines()) == 3
    assert "socwb-default-02" in table


def test_shared_repo_path_accepts_list_and_string() -> None:
    nodes = {
        "one": {"settings": {"path": {"repo": ["/srv/a", "/srv/b"]}}},
        "two": {"settings": {"path": {"repo": "/srv/b"}}},
    }

    assert shared_repo_path(nodes) == "/srv/b"


def test_missing_path_repo_names_setting() -> None:
    nodes = {"one": {"settings": {"path": {"data": ["/srv/data"]}}}}

    with pytest.raises(ConfigurationError, match="node one has no path.repo setting"):
        shared_repo_path(nodes)


def test_disjoint_path_repo_is_rejected() -> None:
    nodes = {
        "one": {"settings": {"path": {"repo": ["/srv/a"]}}},
        "two": {"settings": {"path": {"repo": ["/srv/b"]}}},
    }

    with pytest.raises(ConfigurationError, match="path.repo"):
        shared_repo_path(nodes)
