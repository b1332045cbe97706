"""Fixtures for notification tests: alerts in the test's namespace, a local webhook
receiver and a local SMTP server, both on 127.0.0.1 with a port the system picks."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from socwb.alerts.model import Alert, EntityValue, Evidence
from socwb.alerts.store import AlertStore
from socwb.rules.model import Severity
from socwb.search import SearchBackend

RESPONSE_TIMES = {
    Severity.CRITICAL: timedelta(minutes=15),
    Severity.HIGH: timedelta(hours=1),
    Severity.MEDIUM: timedelta(hours=4),
    Severity.LOW: timedelta(hours=24),
}

RAW_EVENT = '{"event.original": "Dec  4 sshd[1]: Failed password for root from 203.0.113.9"}'


def build_alert(
    *,
    created_at: datetime,
    severity: Severity = Severity.CRITICAL,
    rule_id: str = "iam_policy_change",
    user: str = "alice",
) -> Alert:
    """Return an alert whose evidence contains a raw event, which no message may contain."""
    return Alert(
        id=uuid.uuid4().hex,
        rule_id=rule_id,
        rule_name=rule_id.replace("_", " "),
        severity=severity,
        created_at=created_at,
        due_at=created_at + RESPONSE_TIMES[severity],
        updated_at=created_at,
        last_seen=created_at,
        entity=[EntityValue(field="user.name", value=user)],
        entity_key=f"user.name={user}",
        first_event=created_at - timedelta(minutes=1),
        last_event=created_at,
        count=1,
        evidence=Evidence(buckets={"event.original": RAW_EVENT}, query=RAW_EVENT),
        criteria=["CC7.2"],
        policy_clause="IAM policy change",
        run_id="run-test",
    )


AlertFactory = Callable[..., Alert]


@pytest.fixture
def alert_store(backend: SearchBackend, namespace: str) -> AlertStore:
    """The alert store of this test's namespace, with its index created."""
    store = AlertStore(backend, namespace)
    store.ensure_index()
    return store


@pytest.fixture
def make_alert(alert_store: AlertStore) -> AlertFactory:
    """Write an alert to the test's namespace and return it; arguments as `build_alert`."""

    def create(**arguments: Any) -> Alert:
        arguments.setdefault("created_at", datetime.now(UTC) - timedelta(minutes=1))
        alert = build_alert(**arguments)
        assert alert_store.create_many([alert]) == []
        alert_store.refresh()
        return alert

    return create


# Webhook receiver -------------------------------------------------------------------------


@dataclass
class ReceivedRequest:
    path: str
    content_type: str
    body: dict[str, Any]
    raw: str


@dataclass
class WebhookReceiver:
    """Records every POST and responds with the queued statuses, then 200."""

    base_url: str = ""
    requests: list[ReceivedRequest] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    location: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hooks/T0001/B0001/s3cr3tT0k3nPath") -> str:
        return self.base_url + path

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode("utf-8")
            request = ReceivedRequest(
                self.path, self.headers.get("Content-Type", ""), json.loads(raw), raw
            )
            status = receiver.next_status()
            with receiver.lock:
                receiver.requests.append(request)
            self.send_response(status)
            if receiver.location is not None:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[], WebhookReceiver]]:
    """Start webhook receivers on 127.0.0.1; all are shut down after the test."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start() -> WebhookReceiver:
        receiver = WebhookReceiver()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(receiver))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        servers.append((server, thread))
        return receiver

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver(receiver_factory: Callable[[], WebhookReceiver]) -> WebhookReceiver:
    """One webhook receiver."""
    return receiver_factory()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL on which nothing listens, so every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/s3cr3tT0k3nPath"


# SMTP server ------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    """A minimal SMTP server (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) that keeps messages."""

    port: int = 0
    messages: list[str] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._session(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sender, recipients = "", []
        writer.write(b"220 localhost test SMTP\r\n")
        while line := (await reader.readline()).decode("utf-8").rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                writer.write(b"250-localhost\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(line.split()[2]).decode().split("\x00")
                self.logins.append((user, password))
                writer.write(b"235 2.7.0 accepted\r\n")
            elif verb == "MAIL":
                sender, recipients = line[10:].strip("<> "), []
                writer.write(b"250 OK\r\n")
            elif verb == "RCPT":
                recipients.append(line[8:].strip("<> "))
                writer.write(b"250 OK\r\n")
            elif verb == "DATA":
                writer.write(b"354 end with .\r\n")
                await writer.drain()
                self.messages.append(await self._read_data(reader))
                self.envelopes.append((sender, recipients))
                writer.write(b"250 queued\r\n")
            elif verb == "QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()

    async def _read_data(self, reader: asyncio.StreamReader) -> str:
        lines = []
        while (line := await reader.readline()) not in (b".\r\n", b""):
            lines.append(line.decode("utf-8"))
        return "".join(lines)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A local SMTP server on 127.0.0.1, run by an event loop in its own thread."""
    smtp = SmtpServer()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    # The server starts on the loop's own thread: the main thread may already
    # run another event loop (Playwright's sync API does), which forbids
    # run_until_complete there.
    server = asyncio.run_coroutine_threadsafe(
        asyncio.start_server(smtp.handle, "127.0.0.1", 0), loop
    ).result(timeout=5)
    smtp.port = server.sockets[0].getsockname()[1]
    yield smtp

    async def close() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()
