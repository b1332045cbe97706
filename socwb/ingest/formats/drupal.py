"""Drupal watchdog messages sent through syslog (the `syslog` core module).

The message after the syslog header is pipe-separated:
`base_url|timestamp|type|ip|request_uri|referer|uid|link|message`. The embedded
Unix timestamp carries the year, so these lines need no default year.
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_int, as_ip, parse_time
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LINE = re.compile(
    r"^[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+(?P<host>\S+)\s+(?P<tag>[^\s:]+):\s"
    r"(?P<base>[^|]*)\|(?P<epoch>\d+)\|(?P<type>[^|]*)\|(?P<ip>[^|]*)\|(?P<rest>.*)$"
)
_USER = re.compile(r"(?:failed for|opened for|closed for|revisited for) (?P<user>[^.|]+)")


class DrupalWatchdogNormalizer(LineNormalizer):
    """Drupal watchdog syslog lines."""

    name: ClassVar[str] = "drupal_watchdog"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "drupal"
    vendor: ClassVar[str | None] = "Drupal"
    product: ClassVar[str | None] = "Drupal"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is a watchdog syslog line."""
        return bool(_LINE.match(head.split("\n", 1)[0]))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one watchdog line."""
        match = _LINE.match(text)
        if match is None:
            raise RecordError(
                "not a Drupal watchdog line: expected a syslog header and "
                "'base_url|timestamp|type|ip|...'"
            )
        rest = match["rest"]
        message = rest.rsplit("||", 1)[-1] if "||" in rest else rest
        uid = as_int(rest.split("|")[-3]) if rest.count("|") >= 2 else None
        failed = "Login attempt failed" in rest
        user = _USER.search(rest)
        fields: Fields = {
            "@timestamp": parse_time(int(match["epoch"])),
            "event.action": "login-failed" if failed else _action(message),
            "event.category": ["authentication"]
            if "Login" in rest or "Session" in rest
            else ["web"],
            "event.type": ["start"] if failed or "Session opened" in rest else ["info"],
            "event.outcome": "failure" if failed else "success",
            "event.provider": match["type"],
            "message": message,
            "host.name": match["host"],
            "source.ip": as_ip(match["ip"]),
            "url.full": match["base"],
            "user.name": user["user"].strip() if user else None,
            "user.id": str(uid) if uid else None,
            "process.name": match["tag"].split("[", 1)[0],
        }
        return fields


def _action(message: str) -> str:
    if "Session opened" in message:
        return "session-opened"
    if "Session closed" in message:
        return "session-closed"
    return re.sub(r"[^a-z0-9]+", "-", message.lower()).strip("-")[:64] or "unknown"
