"""Ingest under faults: engine rejections, 503 and 429 responses, an engine that stays down,
and hostile input. Faults come from a loopback proxy in front of the real node."""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from unit.ingest.conftest import require_sample

from socwb.errors import QueryRejectedError
from socwb.ingest.indexer import (
    BulkWriter,
    Document,
    FileInfo,
    IngestAbortedError,
    deadletter_index,
)
from socwb.ingest.pipeline import IngestOptions, event_index, run_ingest
from socwb.ingest.summary import IngestSummary
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend, create_backend
from socwb.settings import Settings

pytestmark = pytest.mark.node

OPENVPN = "network/openvpn_server.log"
OPENVPN_RECORDS = 20


@dataclass
class FaultPlan:
    """What the proxy does to the n-th `_bulk` request (1-based).

    Attributes:
        fail_status: Returns the status to respond with instead of forwarding, or None.
        throttled_items: Returns item positions to hold back and fail with 429.
    """

    fail_status: Callable[[int], int | None] = lambda _call: None
    throttled_items: Callable[[int], set[int]] = lambda _call: set()
    bulk_calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _FaultProxyHandler(BaseHTTPRequestHandler):
    upstream = ""
    plan = FaultPlan()

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].endswith("/_bulk"):
            with self.plan.lock:
                self.plan.bulk_calls += 1
                call = self.plan.bulk_calls
            failure = self.plan.fail_status(call)
            if failure is not None:
                self._reply(failure, json.dumps({"error": "injected", "status": failure}).encode())
                return
            throttled = self.plan.throttled_items(call)
            if throttled:
                self._reply(*self._forward_throttled(body, throttled))
                return
        self._reply(*self._forward(body))

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.upstream + self.path,
            data=body or None,
            method=self.command,
            headers={"content-type": self.headers.get("content-type", "application/json")},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _forward_throttled(self, body: bytes, throttled: set[int]) -> tuple[int, bytes]:
        lines = body.decode().splitlines()
        pairs = [lines[i : i + 2] for i in range(0, len(lines), 2)]
        kept = [pair for position, pair in enumerate(pairs) if position not in throttled]
        if not kept:
            status, answer = 200, b'{"items": []}'
        else:
            body = "\n".join(line for pair in kept for line in pair) + "\n"
            status, answer = self._forward(body.encode())
        items = iter(json.loads(answer)["items"])
        rejected = {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}}
        merged = [
            rejected if position in throttled else next(items) for position in range(len(pairs))
        ]
        return status, json.dumps({"errors": True, "items": merged}).encode()

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture
def fault_proxy(search_url: str) -> Iterator[tuple[str, FaultPlan]]:
    """A loopback proxy to the real node; tests set its `FaultPlan`."""
    plan = FaultPlan()
    handler = type("Handler", (_FaultProxyHandler,), {"upstream": search_url, "plan": plan})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", plan
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def provisioned(backend: SearchBackend, namespace: str) -> SearchBackend:
    """The real node, direct, with this namespace's assets installed."""
    apply_assets(backend, namespace)
    return backend


@pytest.fixture
def proxied(fault_proxy: tuple[str, FaultPlan], namespace: str) -> Iterator[SearchBackend]:
    """A backend that talks to the node through the fault proxy, with short backoff."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        search={
            "urls": [fault_proxy[0]],
            "namespace": namespace,
            "max_retries": 3,
            "retry_backoff_initial": 0.01,
            "retry_backoff_max": 0.05,
        },
    )
    search = create_backend(settings.search)
    try:
        yield search
    finally:
        search.close()


def _options(namespace: str, source: str = "network", **overrides: object) -> IngestOptions:
    values: dict[str, object] = {"source": source, "namespace": namespace, "default_year": 2024}
    values.update(overrides)
    return IngestOptions(**values)  # type: ignore[arg-type]


def _count(backend: SearchBackend, index: str, **terms: object) -> int:
    """Count documents in `index`, 0 when it was never created."""
    backend.refresh(index)
    query = {"bool": {"filter": [{"term": {k: v}} for k, v in terms.items()]}} if terms else None
    try:
        return backend.count(index, query)
    except QueryRejectedError as exc:
        if exc.status == 404:
            return 0
        raise


def _assert_accounted(summary: IngestSummary) -> None:
    totals = summary.totals
    assert totals.read == totals.indexed + totals.duplicates + totals.deadlettered


def test_engine_rejection_deadlettered_rest_indexed(
    provisioned: SearchBackend, namespace: str
) -> None:
    # A test-only template maps user.name as an object, so the engine rejects every
    # event that carries a user name while the rest of each batch is stored.
    provisioned.put_index_template(
        f"conflict-{namespace}",
        {
            "index_patterns": [event_index("network", "openssh", namespace)],
            "data_stream": {},
            "priority": 500,
            "composed_of": [f"socwb-settings-{namespace}", f"socwb-dynamic-{namespace}"],
            "template": {
                "mappings": {
                    "properties": {
                        "@timestamp": {"type": "date"},
                        "user": {"properties": {"name": {"type": "object"}}},
                    }
                }
            },
        },
    )
    path = require_sample("network/openssh_auth.log")

    summary = run_ingest(provisioned, [str(path)], _options(namespace, batch_size=250))
    counts = summary.totals
    provisioned.refresh(deadletter_index(namespace))
    stored = provisioned.search(
        deadletter_index(namespace),
        {"query": {"term": {"socwb.deadletter.stage": "index"}}, "size": 1},
    )["hits"]["hits"][0]["_source"]

    assert counts.read == 2000
    assert counts.index_deadlettered > 0
    assert counts.indexed > 0
    assert counts.indexed + counts.index_deadlettered == 2000
    assert _count(provisioned, event_index("network", "openssh", namespace)) == counts.indexed
    assert (
        _count(provisioned, deadletter_index(namespace), **{"socwb.deadletter.stage": "index"})
        == counts.index_deadlettered
    )
    assert stored["error"]["type"] == "mapper_parsing_exception"
    assert stored["error"]["message"].startswith("HTTP 400")
    assert stored["socwb"]["deadletter"]["file"] == str(path.resolve())
    assert isinstance(stored["socwb"]["deadletter"]["line_number"], int)


def test_engine_rejection_replay_adds_nothing(provisioned: SearchBackend, namespace: str) -> None:
    file = FileInfo(
        "/replay.log", "network", "openssh", event_index("network", "openssh", namespace)
    )
    writer = BulkWriter(provisioned, deadletter_index(namespace))
    good = Document(
        "event", file.index, "good", '{"@timestamp":"2024-01-01T00:00:00Z"}', file, 1, 1, "a"
    )
    bad = Document("event", file.index, "bad", '{"@timestamp":"not-a-date"}', file, 2, 2, "b")

    first = writer.write([good, bad])
    second = writer.write([good, bad])

    assert [outcome for _, outcome in first.stored] == ["indexed", "index_deadlettered"]
    assert [outcome for _, outcome in second.stored] == ["duplicate", "index_deadlettered"]
    assert _count(provisioned, file.index) == 1
    assert _count(provisioned, deadletter_index(namespace)) == 1


def test_bulk_503_retried_then_stored(
    provisioned: SearchBackend,
    proxied: SearchBackend,
    fault_proxy: tuple[str, FaultPlan],
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = fault_proxy[1]
    plan.fail_status = lambda call: 503 if call <= 2 else None
    caplog.set_level(logging.WARNING, logger="socwb.search.retry")

    summary = run_ingest(proxied, [str(require_sample(OPENVPN))], _options(namespace))

    assert summary.totals.indexed == OPENVPN_RECORDS
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2
    assert _count(provisioned, event_index("network", "openvpn", namespace)) == OPENVPN_RECORDS


def test_item_429_retried_then_stored(
    provisioned: SearchBackend,
    proxied: SearchBackend,
    fault_proxy: tuple[str, FaultPlan],
    namespace: str,
) -> None:
    plan = fault_proxy[1]
    plan.throttled_items = lambda call: {0, 3, 7} if call <= 2 else set()

    summary = run_ingest(proxied, [str(require_sample(OPENVPN))], _options(namespace))

    assert summary.retries == 2
    assert summary.totals.indexed == OPENVPN_RECORDS
    assert summary.totals.duplicates == 0
    assert _count(provisioned, event_index("network", "openvpn", namespace)) == OPENVPN_RECORDS


def test_item_429_forever_stops_unacknowledged(
    provisioned: SearchBackend,
    proxied: SearchBackend,
    fault_proxy: tuple[str, FaultPlan],
    namespace: str,
) -> None:
    # Item 5 of the first request, then the only item of every retry.
    fault_proxy[1].throttled_items = lambda call: {4} if call == 1 else {0}

    with pytest.raises(IngestAbortedError, match="still responded with 429/502/503/504") as raised:
        run_ingest(proxied, [str(require_sample(OPENVPN))], _options(namespace))

    summary = raised.value.summary
    assert summary is not None
    assert summary.totals.indexed == OPENVPN_RECORDS - 1
    assert raised.value.not_written == 1
    assert raised.value.resume_position == "line 5"
    assert _count(provisioned, event_index("network", "openvpn", namespace)) == OPENVPN_RECORDS - 1


def test_engine_down_stops_with_resume_point(
    provisioned: SearchBackend,
    proxied: SearchBackend,
    fault_proxy: tuple[str, FaultPlan],
    namespace: str,
) -> None:
    path = require_sample(OPENVPN)
    fault_proxy[1].fail_status = lambda call: 503 if call >= 3 else None
    options = _options(namespace, batch_size=5)

    with pytest.raises(IngestAbortedError) as raised:
        run_ingest(proxied, [str(path)], options)
    resumed = run_ingest(provisioned, [str(path)], options)

    error = raised.value
    assert error.summary is not None
    assert error.summary.totals.indexed == 10
    assert error.resume_file == str(path.resolve())
    assert error.resume_position == "line 11"
    # The failed batch plus the one batch read ahead while it was in flight.
    assert error.not_written == 10
    assert error.summary.resume_at == f"{path.resolve()} line 11"
    assert "Run the same command again" in str(error)
    assert resumed.totals.duplicates == 10
    assert resumed.totals.indexed == 10
    assert _count(provisioned, event_index("network", "openvpn", namespace)) == OPENVPN_RECORDS


def _hostile_lines() -> list[bytes]:
    record = {"uuid": "u-1", "published": "2024-01-01T00:00:00Z", "eventType": "user.session.start"}
    valid = json.dumps(record).encode()
    fixed = [
        valid,
        valid[: len(valid) // 2],
        b"\xff\xfe\xfa not utf-8 \xc3\x28",
        json.dumps(record | {"uuid": "u-2", "displayMessage": "a\x00b\x1bc\x07"}).encode(),
        json.dumps(record | {"uuid": "u-3", "displayMessage": "x" * 100_000}).encode(),
        b"x" * 100_000,
        b"[" * 5000 + b"]" * 5000,
        b'{"uuid": "\\ud800", "published": "2024-01-01T00:00:00Z"}',
        b"\xef\xbb\xbf" + json.dumps(record | {"uuid": "u-4"}).encode(),
        json.dumps(record | {"uuid": "u-5", "published": "9999-99-99"}).encode(),
        b'{"uuid": 1e400, "published": "2024-01-01T00:00:00Z"}',
        b"\r",
        b"null",
        valid,
    ]
    rng = random.Random(7)
    noise = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(40)]
    return fixed + [line.replace(b"\n", b" ") for line in noise]


def test_hostile_input_fully_accounted(
    provisioned: SearchBackend, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "hostile.ndjson"
    path.write_bytes(b"\n".join(_hostile_lines()) + b"\n")
    options = _options(namespace, "idp", format_name="okta")

    summary = run_ingest(provisioned, [str(path)], options)
    replay = run_ingest(provisioned, [str(path)], options)

    totals = summary.totals
    _assert_accounted(summary)
    _assert_accounted(replay)
    assert totals.read > 40
    assert totals.indexed >= 4
    assert totals.deadlettered > 0
    assert _count(provisioned, event_index("idp", "okta", namespace)) == totals.indexed
    assert _count(provisioned, deadletter_index(namespace)) == totals.deadlettered
    assert replay.totals.indexed == 0
    assert replay.totals.deadlettered == totals.deadlettered
    assert _count(provisioned, deadletter_index(namespace)) == totals.deadlettered
