"""The ingest pipeline without an engine: options, format choice, documents, dead letters."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from socwb.ingest.ids import document_id
from socwb.ingest.indexer import (
    Document,
    FileInfo,
    build_deadletter,
    deadletter_id,
    deadletter_index,
    to_json,
    utf8_size,
)
from socwb.ingest.pipeline import (
    CachedGeoLookup,
    IngestOptions,
    InputFormatError,
    PlannedInput,
    event_index,
    iter_batches,
    iter_documents,
    parse_fallback_time,
    plan_inputs,
    resolve_normalizer,
)
from socwb.ingest.reader import InputFile, expand_paths
from socwb.ingest.summary import FileCounts, IngestSummary, format_summary

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SSHD_LINES = [
    "Dec 10 06:55:46 srv sshd[24200]: Invalid user webmaster from 207.63.31.127",
    "",
    "Dec 10 06:55:48 srv sshd[24200]: Failed password for root from 207.63.31.127 port 22 ssh2",
    "not a syslog line at all",
    "Dec 10 06:56:01 srv sshd[24202]: Connection closed by 207.63.31.127 [preauth]",
]


def _options(**overrides: object) -> IngestOptions:
    values: dict[str, object] = {"source": "network", "namespace": "unit", "default_year": 2024}
    values.update(overrides)
    return IngestOptions(**values)  # type: ignore[arg-type]


def _documents(path: Path, options: IngestOptions) -> list[Document]:
    planned = plan_inputs(expand_paths([str(path)]), options)
    return list(iter_documents(planned, options, now=NOW))


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _file_info() -> FileInfo:
    return FileInfo("/logs/auth.log", "network", "openssh", "logs-network.openssh-unit")


def test_parse_fallback_time_keywords() -> None:
    assert parse_fallback_time("now") == "now"
    assert parse_fallback_time("mtime") == "mtime"


def test_parse_fallback_time_iso_to_utc() -> None:
    assert parse_fallback_time("2024-05-01T02:00:00+02:00") == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01T00:00:00Z"])
def test_parse_fallback_time_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected now, mtime or an ISO 8601 time"):
        parse_fallback_time(text)


def test_parse_fallback_time_without_offset() -> None:
    with pytest.raises(ValueError, match="has no UTC offset"):
        parse_fallback_time("2024-05-01T00:00:00")


def test_index_names() -> None:
    assert event_index("network", "openssh", "prod") == "logs-network.openssh-prod"
    assert deadletter_index("prod") == "logs-socwb.deadletter-prod"


def test_resolve_normalizer_by_format() -> None:
    normalizer = resolve_normalizer(None, source="network", format_name="openssh", label="x")

    assert normalizer.name == "openssh"


def test_resolve_normalizer_source_mismatch() -> None:
    with pytest.raises(InputFormatError, match="belongs to source 'network', not 'cloud'"):
        resolve_normalizer(None, source="cloud", format_name="openssh", label="x")


def test_resolve_normalizer_unknown_format() -> None:
    with pytest.raises(InputFormatError, match="unknown format 'nope'"):
        resolve_normalizer(None, source="cloud", format_name="nope", label="x")


def test_resolve_normalizer_undetectable_names_input() -> None:
    with pytest.raises(InputFormatError, match=r"/logs/x.txt: unknown input format.*--format"):
        resolve_normalizer("hello world\n", source="network", format_name=None, label="/logs/x.txt")


def test_resolve_normalizer_detects_within_source() -> None:
    normalizer = resolve_normalizer(SSHD_LINES[0], source="network", format_name=None, label="x")

    assert normalizer.name == "openssh"


def test_plan_inputs_detects_each_file(tmp_path: Path) -> None:
    sshd = _write(tmp_path / "auth.log", SSHD_LINES)

    planned = plan_inputs(expand_paths([str(sshd)]), _options())

    assert [item.normalizer.name for item in planned if item.normalizer] == ["openssh"]


def test_plan_inputs_mtime_with_stdin_rejected() -> None:
    with pytest.raises(InputFormatError, match="standard input has no modification time"):
        plan_inputs([InputFile("-", None)], _options(fallback_time="mtime"))


def test_plan_inputs_stdin_waits_for_detection() -> None:
    planned = plan_inputs([InputFile("-", None)], _options())

    assert planned == [PlannedInput(InputFile("-", None), None)]


def test_documents_events_and_parse_deadletters(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.log", SSHD_LINES)

    documents = _documents(path, _options())

    assert [d.kind for d in documents] == ["event", "event", "deadletter", "event"]
    assert [d.line_number for d in documents] == [1, 3, 4, 5]
    assert [d.record_number for d in documents] == [1, 2, 3, 4]
    assert {d.index for d in documents if d.kind == "event"} == {"logs-network.openssh-unit"}


def test_documents_event_id_is_document_id(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.log", SSHD_LINES)

    event = _documents(path, _options())[0]
    body = json.loads(event.body)

    assert event.doc_id == document_id(body)
    assert body["log"]["file"]["path"] == str(path.resolve())
    assert event.original == SSHD_LINES[0]


def test_documents_non_ascii_body(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "auth.log", ["Dec 10 06:55:46 srv sshd[1]: Invalid user jörg from 1.2.3.4"]
    )

    event = _documents(path, _options())[0]

    assert json.loads(event.body)["user"]["name"] == "jörg"
    assert utf8_size(event.body) == len(event.body.encode("utf-8"))


def test_parse_deadletter_shape(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.log", SSHD_LINES)

    deadletter = _documents(path, _options())[2]
    body = json.loads(deadletter.body)

    assert deadletter.index == "logs-socwb.deadletter-unit"
    assert deadletter.stage == "parse"
    assert body["@timestamp"] == "2024-06-01T12:00:00.000Z"
    assert body["error"]["type"] == "parse_error"
    assert body["error"]["message"]
    assert body["event"] == {"original": SSHD_LINES[3], "dataset": "socwb.deadletter"}
    assert body["socwb"]["deadletter"] == {
        "source": "network",
        "format": "openssh",
        "file": str(path.resolve()),
        "line_number": 4,
        "stage": "parse",
    }


def test_deadletter_ids_stable_across_runs(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.log", SSHD_LINES)

    first = [d.doc_id for d in _documents(path, _options())]
    second = [d.doc_id for d in _documents(path, _options())]

    assert first == second
    assert len(set(first)) == len(first)


def test_deadletter_id_depends_on_position_and_file() -> None:
    base = deadletter_id("/a.log", "line 4", "parse", "raw")

    assert deadletter_id("/a.log", "line 4", "parse", "raw") == base
    assert deadletter_id("/a.log", "line 5", "parse", "raw") != base
    assert deadletter_id("/b.log", "line 4", "parse", "raw") != base
    assert deadletter_id("/a.log", "line 4", "index", "raw") != base


def test_build_deadletter_without_line_number() -> None:
    deadletter = build_deadletter(
        file=_file_info(),
        index="logs-socwb.deadletter-unit",
        line_number=None,
        record_number=7,
        stage="index",
        error_type="mapper_parsing_exception",
        error_message="HTTP 400: failed to parse",
        raw="x" * 100_000,
        now=NOW,
    )
    body = json.loads(deadletter.body)

    assert deadletter.position == "record 7"
    assert "line_number" not in body["socwb"]["deadletter"]
    assert body["socwb"]["deadletter"]["stage"] == "index"
    assert len(body["event"]["original"]) == 32 * 1024


def test_documents_year_missing_all_deadlettered(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.log", SSHD_LINES)

    documents = _documents(path, _options(default_year=None))

    assert {d.kind for d in documents} == {"deadletter"}
    assert "default year" in json.loads(documents[0].body)["error"]["message"]


def test_documents_fallback_time_mtime(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", ['{"uuid":"1","eventType":"user.session.start"}'])
    options = _options(source="idp", format_name="okta", fallback_time="mtime")

    documents = _documents(path, options)
    body = json.loads(documents[0].body)

    expected = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    assert documents[0].kind == "event"
    assert body["@timestamp"].startswith(expected.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "timestamp_from_context" in body["tags"]


def test_documents_gzip_input(tmp_path: Path) -> None:
    path = tmp_path / "auth.log.gz"
    path.write_bytes(gzip.compress(("\n".join(SSHD_LINES) + "\n").encode()))

    documents = _documents(path, _options())

    assert [d.line_number for d in documents] == [1, 3, 4, 5]


def test_documents_oversized_line_deadlettered(tmp_path: Path) -> None:
    lines = [SSHD_LINES[0], "Dec 10 06:55:47 srv sshd[1]: " + "x" * 5000, SSHD_LINES[2]]
    path = _write(tmp_path / "auth.log", lines)

    documents = _documents(path, _options(max_line_bytes=1000))
    body = json.loads(documents[1].body)

    assert [d.kind for d in documents] == ["event", "deadletter", "event"]
    assert [d.line_number for d in documents] == [1, 2, 3]
    assert body["error"]["type"] == "line_too_long"
    assert "longer than the limit of 1000 bytes" in body["error"]["message"]
    assert len(body["event"]["original"]) == 1000


def test_documents_whole_document_records(tmp_path: Path) -> None:
    records = [
        {
            "eventID": f"id-{n}",
            "eventTime": "2024-01-01T00:00:00Z",
            "eventName": "GetObject",
            "eventSource": "s3.amazonaws.com",
            "awsRegion": "us-east-1",
        }
        for n in range(3)
    ]
    records.append({"eventID": "no-time", "eventName": "GetObject"})
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}, indent=2))

    documents = _documents(path, _options(source="cloud"))

    assert [d.kind for d in documents] == ["event", "event", "event", "deadletter"]
    assert [d.line_number for d in documents] == [None, None, None, None]
    assert documents[3].position == "record 4"


def test_documents_cloudtrail_ndjson_has_lines(tmp_path: Path) -> None:
    record = {
        "eventID": "a",
        "eventTime": "2024-01-01T00:00:00Z",
        "eventName": "GetObject",
        "eventSource": "s3.amazonaws.com",
        "awsRegion": "us-east-1",
    }
    lines = [json.dumps(record), "", json.dumps(record | {"eventID": "b"})]
    path = _write(tmp_path / "trail.ndjson", lines)

    documents = _documents(path, _options(source="cloud", format_name="aws_cloudtrail"))

    assert [d.line_number for d in documents] == [1, 3]


def _document(size: int, number: int = 1) -> Document:
    return Document(
        kind="event",
        index="logs-network.openssh-unit",
        doc_id=str(number),
        body="x" * size,
        file=_file_info(),
        line_number=number,
        record_number=number,
        original="",
    )


def test_iter_batches_by_count() -> None:
    documents = [_document(10, n) for n in range(5)]

    batches = list(iter_batches(documents, max_documents=2, max_bytes=10_000))

    assert [len(batch) for batch in batches] == [2, 2, 1]


def test_iter_batches_by_bytes() -> None:
    documents = [_document(400, n) for n in range(5)]

    batches = list(iter_batches(documents, max_documents=100, max_bytes=1100))

    assert [len(batch) for batch in batches] == [2, 2, 1]


def test_iter_batches_oversized_document_alone() -> None:
    documents = [_document(10, 1), _document(5000, 2), _document(10, 3)]

    batches = list(iter_batches(documents, max_documents=100, max_bytes=1000))

    assert [[d.doc_id for d in batch] for batch in batches] == [["1"], ["2"], ["3"]]


class _CountingLookup:
    def __init__(self) -> None:
        self.calls = 0

    def country(self, ip: str) -> tuple[str, str | None] | None:
        self.calls += 1
        return ("DE", "Germany")


def test_cached_geo_lookup_asks_once_per_address() -> None:
    inner = _CountingLookup()
    lookup = CachedGeoLookup(inner)

    answers = [lookup.country("81.2.69.160") for _ in range(3)]

    assert answers == [("DE", "Germany")] * 3
    assert inner.calls == 1


def test_summary_totals_and_text() -> None:
    summary = IngestSummary()
    summary.files["/a.log"] = FileCounts("/a.log", "openssh", 5, 3, 1, 1, 0)
    summary.files["/b.log"] = FileCounts("/b.log", "openssh", 2, 0, 0, 1, 1)

    totals = summary.totals
    text = format_summary(summary)

    assert (totals.read, totals.indexed, totals.duplicates) == (7, 3, 1)
    assert totals.deadlettered == 3
    assert totals.accounted == totals.read
    assert text.splitlines()[-2].split()[:5] == ["7", "3", "1", "2", "1"]


def test_to_json_compact_and_big_integers() -> None:
    assert to_json({"a": [1, "ü"]}) == '{"a":[1,"ü"]}'
    assert json.loads(to_json({"n": 2**70})) == {"n": 2**70}


def test_utf8_size_counts_bytes() -> None:
    assert utf8_size("abc") == 3
    assert utf8_size("jörg") == 5
