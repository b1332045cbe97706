"""Property-based checks: no normalizer raises on hostile input.

Line normalizers must yield exactly one result per non-blank line, and whole
document normalizers must yield results without raising.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socwb.ingest.formats._base import DocumentNormalizer, JsonEnvelopeNormalizer
from socwb.ingest.model import ParseContext, Rejected
from socwb.ingest.registry import all_normalizers

CONTEXT = ParseContext(default_year=2024)
LINE_NORMALIZERS = [
    n for n in all_normalizers() if not isinstance(n, (DocumentNormalizer, JsonEnvelopeNormalizer))
]
ALL_NAMES = [n.name for n in all_normalizers()]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
KNOWN_KEYS = [
    "eventName",
    "eventTime",
    "actor",
    "published",
    "eventType",
    "data",
    "timestamp",
    "event",
    "metadata",
    "properties",
    "category",
    "operationName",
    "time",
    "action",
    "columns",
    "name",
    "Records",
    "EventID",
    "Channel",
    "event_type_id",
    "QUERY_TEXT",
    "httpRequest",
    "webaclId",
    "requestParameters",
    "userIdentity",
    "target",
    "id",
]
records = st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=8)


def _is_result(value):
    return isinstance(value, (dict, Rejected))


def _non_blank(lines):
    return [line for line in lines if line.strip()]


lines_strategy = st.lists(
    st.one_of(
        st.text(max_size=200).map(lambda text: text.replace("\n", " ").replace("\r", " ")),
        records.map(json.dumps),
        records.map(lambda record: json.dumps(record)[: len(json.dumps(record)) // 2]),
    ),
    max_size=5,
)


@pytest.mark.parametrize("normalizer", LINE_NORMALIZERS, ids=[n.name for n in LINE_NORMALIZERS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy)
def test_line_normalizer_one_result_per_line(normalizer, lines):
    results = list(normalizer.parse(lines, CONTEXT))

    assert len(results) == len(_non_blank(lines))
    assert all(_is_result(result) for result in results)


@pytest.mark.parametrize("normalizer", LINE_NORMALIZERS, ids=[n.name for n in LINE_NORMALIZERS])
@settings(max_examples=40, deadline=None)
@given(chunks=st.lists(st.binary(max_size=120), max_size=5))
def test_line_normalizer_accepts_invalid_utf8(normalizer, chunks):
    lines = [chunk.replace(b"\n", b" ").replace(b"\r", b" ") for chunk in chunks]

    results = list(normalizer.parse(lines, CONTEXT))

    expected = [line for line in lines if line.decode("utf-8", "replace").strip()]
    assert len(results) == len(expected)
    assert all(_is_result(result) for result in results)


@pytest.mark.parametrize("name", ALL_NAMES)
@settings(max_examples=30, deadline=None)
@given(text=st.text(max_size=400))
def test_any_normalizer_survives_arbitrary_text(name, text):
    from socwb.ingest.registry import get_normalizer

    results = list(get_normalizer(name).parse(text.splitlines(keepends=True), CONTEXT))

    assert all(_is_result(result) for result in results)


@pytest.mark.parametrize("name", ["aws_cloudtrail", "trivy"])
@settings(max_examples=40, deadline=None)
@given(
    document=st.dictionaries(
        st.sampled_from(["Records", "Results", "SchemaVersion"]), json_values, max_size=3
    )
)
def test_document_normalizer_survives_wrong_types(name, document):
    from socwb.ingest.registry import get_normalizer

    text = json.dumps(document, indent=1)

    results = list(get_normalizer(name).parse(text.splitlines(keepends=True), CONTEXT))

    assert all(_is_result(result) for result in results)


@pytest.mark.parametrize("normalizer", LINE_NORMALIZERS, ids=[n.name for n in LINE_NORMALIZERS])
def test_line_normalizer_survives_control_characters_and_huge_fields(normalizer):
    lines = [
        "\x00\x01\x1b[31m\x7f" * 50,
        json.dumps({"eventType": "\x00" * 10, "actor": {"alternateId": "a" * 200_000}}),
        '{"data": ' * 5000,
        "[" * 100_000,
    ]

    results = list(normalizer.parse(lines, CONTEXT))

    assert len(results) == len(lines)
    assert all(_is_result(result) for result in results)
