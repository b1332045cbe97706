"""ModSecurity (2.x and 3.x) messages in the Apache error_log."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip, timezone_named
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LINE = re.compile(
    r"^\[(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4})\] "
    r"\[(?:[^\]:]*:)?(?P<level>[a-z]+)\] (?:\[pid [^\]]+\] )?\[client (?P<client>[^\]]+)\] "
    r"(?:\[client [^\]]+\] )?ModSecurity: (?P<msg>.*)$"
)
_TAG = re.compile(r'\[(?P<key>[a-z_]+) "(?P<value>(?:[^"\\]|\\.)*)"\]')
_DENIED = re.compile(r"Access denied with code (?P<code>\d+)")


class ModSecurityNormalizer(LineNormalizer):
    """ModSecurity messages in Apache error_log lines.

    Apache writes local time without a zone, so times use `ctx.default_timezone`.
    """

    name: ClassVar[str] = "modsecurity"
    source: ClassVar[Source] = "waf"
    module: ClassVar[str] = "modsecurity"
    vendor: ClassVar[str | None] = "OWASP"
    product: ClassVar[str | None] = "ModSecurity"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is a ModSecurity error_log line."""
        return bool(_LINE.match(head.split("\n", 1)[0]))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one ModSecurity line."""
        match = _LINE.match(text)
        if match is None:
            raise RecordError(
                "not a ModSecurity error_log line: "
                "expected '[time] [level] [client ip] ModSecurity: ...'"
            )

        message = match["msg"]
        tags = _tags(message)
        denied = _DENIED.search(message)
        fields: Fields = {
            "@timestamp": _time(match["ts"], ctx),
            "event.action": "request-blocked" if denied else "rule-matched",
            "event.category": ["web", "intrusion_detection"],
            "event.type": ["denied"] if denied else ["info"],
            "event.outcome": "failure" if denied else "unknown",
            "log.level": match["level"],
            "message": message,
            "source.ip": as_ip(match["client"]),
            "rule.id": _first(tags, "id"),
            "rule.name": _first(tags, "msg"),
            "rule.ruleset": _first(tags, "ver"),
            "socwb.alert.severity": _first(tags, "severity"),
            "url.original": _first(tags, "uri"),
            "url.domain": _first(tags, "hostname"),
            "transaction.id": _first(tags, "unique_id"),
            "http.response.status_code": int(denied["code"]) if denied else None,
            "modsecurity.tags": tags.get("tag"),
        }
        if message.startswith("Audit log:"):
            fields["event.action"] = "audit-log-error"
            fields["event.category"] = ["web"]
            fields["event.type"] = ["error"]
        return fields


def _time(stamp: str, ctx: ParseContext) -> datetime:
    pattern = "%a %b %d %H:%M:%S.%f %Y" if "." in stamp else "%a %b %d %H:%M:%S %Y"
    return datetime.strptime(stamp, pattern).replace(tzinfo=timezone_named(ctx.default_timezone))


def _tags(message: str) -> dict[str, list[str]]:
    """Return the `[key "value"]` pairs of a ModSecurity message, values per key in order."""
    tags: dict[str, list[str]] = {}
    for tag in _TAG.finditer(message):
        tags.setdefault(tag["key"], []).append(tag["value"])
    return tags


def _first(tags: dict[str, list[str]], key: str) -> str | None:
    values = tags.get(key)
    return values[0] if values else None
