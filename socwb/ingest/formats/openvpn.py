"""OpenVPN server syslog lines."""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip
from socwb.ingest.model import ParseContext, Source
from socwb.ingest.syslog import parse_syslog

logger = logging.getLogger(__name__)

_PEER = re.compile(r"^(?:(?P<user>[^/\s]+)/)?(?P<ip>\d{1,3}(?:\.\d{1,3}){3}):(?P<port>\d+) ")
_AF_PEER = re.compile(r"\[AF_INET6?\](?P<ip>[0-9a-fA-F.:]+?):(?P<port>\d+)\b")
_RULES: tuple[tuple[str, str, list[str], list[str], str], ...] = (
    (
        "Auth Username/Password verification failed",
        "vpn-login-failed",
        ["authentication", "network"],
        ["start"],
        "failure",
    ),
    ("TLS Auth Error", "vpn-login-failed", ["authentication", "network"], ["start"], "failure"),
    (
        "Peer Connection Initiated",
        "vpn-connection-initiated",
        ["network"],
        ["connection", "start"],
        "success",
    ),
    ("MULTI: Learn", "vpn-address-assigned", ["network"], ["connection"], "success"),
    ("TLS handshake failed", "tls-handshake-failed", ["network"], ["connection"], "failure"),
    ("VERIFY ERROR", "certificate-verify-failed", ["network"], ["connection"], "failure"),
    ("cannot locate HMAC", "hmac-verify-failed", ["network"], ["connection"], "failure"),
    (
        "Bad encapsulated packet length",
        "bad-packet",
        ["network", "intrusion_detection"],
        ["denied"],
        "failure",
    ),
    (
        "TCP connection established",
        "connection-established",
        ["network"],
        ["connection", "start"],
        "success",
    ),
    ("Connection reset", "connection-reset", ["network"], ["connection", "end"], "unknown"),
    ("SIGUSR1", "client-restart", ["network"], ["connection", "end"], "unknown"),
)


class OpenVpnNormalizer(LineNormalizer):
    """OpenVPN server lines behind an RFC 3164 syslog header (needs a default year)."""

    name: ClassVar[str] = "openvpn"
    source: ClassVar[Source] = "network"
    module: ClassVar[str] = "openvpn"
    vendor: ClassVar[str | None] = "OpenVPN"
    product: ClassVar[str | None] = "OpenVPN"

    def sniff(self, head: str) -> bool:
        """Return whether the first line comes from an OpenVPN process."""
        return bool(
            re.match(r"^\S+\s+\d+\s+[\d:]+\s+(?:\S+\s+)?(?:ovpn-\S+|openvpn)\[\d+\]:", head)
        )

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one OpenVPN line."""
        header = parse_syslog(text, ctx)
        message = header.message
        fields: Fields = {
            "@timestamp": header.timestamp,
            "host.name": header.hostname,
            "process.name": header.app_name,
            "process.pid": header.process_id,
            "message": message,
            "event.action": "log",
            "event.category": ["network"],
            "event.type": ["info"],
            "network.transport": "tcp" if "TCP" in message else None,
        }
        peer = _PEER.match(message) or _AF_PEER.search(message)
        if peer:
            groups = peer.groupdict()
            fields["source.ip"] = as_ip(groups["ip"])
            fields["source.port"] = int(groups["port"])
            fields["user.name"] = groups.get("user")
        for needle, action, category, types, outcome in _RULES:
            if needle in message:
                fields.update(
                    {
                        "event.action": action,
                        "event.category": category,
                        "event.type": types,
                        "event.outcome": outcome,
                    }
                )
                break
        return fields
