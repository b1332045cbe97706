"""A server certificate signed by another CA than the configured one is refused.

The test makes two CAs and a server certificate for 127.0.0.1 signed by the
first, serves HTTPS on a loopback port with Python's `ssl`, and connects
through socwb's search client with `ca_certs` set to either CA.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from socwb.errors import SearchUnavailableError
from socwb.search import create_backend
from socwb.settings import SearchSettings

ROOT_RESPONSE = {
    "cluster_name": "tls-test",
    "version": {"number": "2.19.6", "distribution": "opensearch"},
}


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _issue(subject: str, issuer: Issued | None, *, is_ca: bool, ip: str | None = None) -> Issued:
    """Issue a certificate valid for one day, self-signed when `issuer` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if ip is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(ip))])
        builder = builder.add_extension(san, critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def _write_pem(path: Path, issued: Issued, *, with_key: bool = False) -> Path:
    data = issued.certificate.public_bytes(serialization.Encoding.PEM)
    if with_key:
        data += issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return path


class _RootHandler(BaseHTTPRequestHandler):
    requests_seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self.requests_seen.append(self.path)
        body = json.dumps(ROOT_RESPONSE).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@dataclass(frozen=True)
class TlsServer:
    """A loopback HTTPS server and the CA files of the test."""

    url: str
    signing_ca: Path
    other_ca: Path
    requests_seen: list[str]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    """Serve `GET /` over HTTPS on 127.0.0.1 with a certificate from the first CA."""
    signing = _issue("socwb test CA 1", None, is_ca=True)
    other = _issue("socwb test CA 2", None, is_ca=True)
    server_cert = _issue("127.0.0.1", signing, is_ca=False, ip="127.0.0.1")
    chain = _write_pem(tmp_path / "server.pem", server_cert, with_key=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)

    class Handler(_RootHandler):
        requests_seen: list[str] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="tls-test-server", daemon=True)
    thread.start()
    try:
        yield TlsServer(
            url=f"https://127.0.0.1:{server.server_address[1]}",
            signing_ca=_write_pem(tmp_path / "ca1.pem", signing),
            other_ca=_write_pem(tmp_path / "ca2.pem", other),
            requests_seen=Handler.requests_seen,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _settings(url: str, ca_certs: Path) -> SearchSettings:
    return SearchSettings(urls=[url], ca_certs=ca_certs, max_retries=0, request_timeout=10)


def test_wrong_ca_refused(tls_server: TlsServer) -> None:
    with pytest.raises(SearchUnavailableError) as caught:
        create_backend(_settings(tls_server.url, tls_server.other_ca))

    message = str(caught.value)
    assert tls_server.url in message
    assert "certificate verify failed" in message
    assert "SOCWB_SEARCH__CA_CERTS" in message
    assert tls_server.requests_seen == []


def test_signing_ca_accepted(tls_server: TlsServer) -> None:
    backend = create_backend(_settings(tls_server.url, tls_server.signing_ca))
    backend.close()

    assert backend.info.cluster_name == "tls-test"
    assert tls_server.requests_seen == ["/"]
