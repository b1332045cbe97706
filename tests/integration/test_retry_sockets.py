"""Retries and backoff over real loopback sockets: a closed port and an overloaded server."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from socwb.errors import SearchUnavailableError
from socwb.search import create_backend
from socwb.settings import Settings

ROOT_BODY = {
    "cluster_name": "loopback",
    "version": {"distribution": "opensearch", "number": "2.19.6"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings(url: str, retries: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        search={
            "urls": [url],
            "max_retries": retries,
            "retry_backoff_initial": 0.05,
            "retry_backoff_max": 0.2,
            "request_timeout": 2,
        },
    )


def test_closed_port_retries_with_backoff_then_fails(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    caplog.set_level(logging.WARNING, logger="socwb.search.retry")

    with pytest.raises(SearchUnavailableError) as raised:
        create_backend(_settings(url, retries=4).search)

    retries = [record for record in caplog.records if "retrying" in record.getMessage()]
    delays = [float(record.args[3]) for record in retries]  # type: ignore[index]
    assert len(retries) == 4
    assert delays[1] > delays[0]
    assert max(delays) <= 0.2
    assert "after 5 attempts" in str(raised.value)
    assert url in str(raised.value)
    assert "socwb node start" in str(raised.value)


class _OverloadedHandler(BaseHTTPRequestHandler):
    """Responds with 503, then 429, then a normal OpenSearch root document."""

    statuses: list[int] = []

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        status = self.statuses.pop(0) if self.statuses else 200
        body = json.dumps(ROOT_BODY if status == 200 else {"error": "busy"}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def overloaded_server() -> Iterator[str]:
    _OverloadedHandler.statuses = [503, 429]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OverloadedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_503_and_429_are_retried_until_success(
    overloaded_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="socwb.search.retry")

    backend = create_backend(_settings(overloaded_server, retries=3).search)

    retries = [record for record in caplog.records if "retrying" in record.getMessage()]
    assert backend.info.version == "2.19.6"
    assert len(retries) == 2
    backend.close()


def test_overload_beyond_retries_fails(overloaded_server: str) -> None:
    _OverloadedHandler.statuses = [503, 503, 503]

    with pytest.raises(SearchUnavailableError, match="after 2 attempts"):
        create_backend(_settings(overloaded_server, retries=1).search)
