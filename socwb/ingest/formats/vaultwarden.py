"""Vaultwarden (Bitwarden-compatible server) log lines."""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip, parse_time, timezone_named
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LINE = re.compile(
    r"^\[(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{4})?)\]"
    r"\[(?P<target>[^\]]+)\]\[(?P<level>[A-Z]+)\]\s(?P<msg>.*)$"
)
_IP = re.compile(r"IP: (?P<ip>[0-9A-Fa-f:.]+?)\.?(?:\s|$)")
_USER = re.compile(r"Username: (?P<user>\S+?)\.?$")


class VaultwardenNormalizer(LineNormalizer):
    """Vaultwarden `[time][module][LEVEL] message` lines."""

    name: ClassVar[str] = "vaultwarden"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "vaultwarden"
    vendor: ClassVar[str | None] = "Vaultwarden"
    product: ClassVar[str | None] = "Vaultwarden"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is a Vaultwarden log line."""
        match = _LINE.match(head.split("\n", 1)[0])
        return match is not None and match["target"].startswith("vaultwarden")

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one log line. Times without an offset use `ctx.default_timezone`."""
        match = _LINE.match(text)
        if match is None:
            raise RecordError("not a Vaultwarden log line: expected '[time][module][LEVEL] ...'")
        stamp = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", match["ts"])
        message = match["msg"]
        ip = _IP.search(message)
        user = _USER.search(message)
        fields: Fields = {
            "@timestamp": parse_time(stamp, timezone_named(ctx.default_timezone)),
            "event.action": _action(message),
            "event.category": ["authentication"],
            "event.type": ["start"],
            "event.outcome": "failure" if match["level"] == "ERROR" else "unknown",
            "log.level": match["level"].lower(),
            "log.logger": match["target"],
            "message": message,
            "source.ip": as_ip(ip["ip"]) if ip else None,
            "user.name": user["user"] if user else None,
        }
        if "two_factor" in match["target"] or "TOTP" in message:
            fields["socwb.auth.is_mfa_event"] = True
            fields["tags"] = ["mfa"]
        return fields


def _action(message: str) -> str:
    if "admin token" in message:
        return "admin-token-invalid"
    if "TOTP" in message:
        return "mfa-totp-invalid"
    if "Username or password is incorrect" in message:
        return "login-failed"
    return "log-message"
