"""MySQL and MariaDB error log lines (access-denied warnings and other messages)."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip, parse_time, timezone_named
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_SYSLOG_PREFIX = re.compile(
    r"^(?:[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\S*)"
    r"\s+(?P<host>\S+)\s+mysqld(?:\[\d+\])?:\s+"
)
_BODY = re.compile(
    r"^(?P<ts>\d{6}\s+\d{1,2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}[ T]\s?\d{1,2}:\d{2}:\d{2}(?:\.\d+)?Z?)"
    r"\s+(?:(?P<thread>\d+)\s+)?\[(?P<level>[A-Za-z]+)\]\s+(?:\[[^\]]*\]\s+)*(?P<msg>.*)$"
)
_DENIED = re.compile(
    r"Access denied for user '(?P<user>[^']*)'@'(?P<host>[^']*)'"
    r"(?: \(using password: (?P<pw>\w+)\))?"
)


def _timestamp(text: str, ctx: ParseContext) -> datetime | None:
    zone = timezone_named(ctx.default_timezone)
    legacy = re.fullmatch(r"(\d{2})(\d{2})(\d{2})\s+(\d{1,2}):(\d{2}):(\d{2})", text)
    if legacy:
        year, month, day, hour, minute, second = (int(part) for part in legacy.groups())
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=zone)
    return parse_time(re.sub(r"([ T])\s?(\d):", r"\g<1>0\2:", text), zone)


class MySqlErrorNormalizer(LineNormalizer):
    """MySQL/MariaDB error log lines, optionally behind a syslog header.

    Times come from the MySQL timestamp (it carries the year); times without a zone
    use `ctx.default_timezone`.
    """

    name: ClassVar[str] = "mysql_error"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "mysql"
    vendor: ClassVar[str | None] = "Oracle"
    product: ClassVar[str | None] = "MySQL"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is a MySQL error log line."""
        line = head.split("\n", 1)[0]
        return bool(_BODY.match(_SYSLOG_PREFIX.sub("", line)))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one error log line."""
        prefix = _SYSLOG_PREFIX.match(text)
        match = _BODY.match(text[prefix.end() :] if prefix else text)
        if match is None:
            raise RecordError("not a MySQL error log line: expected 'time [Level] message'")
        message = match["msg"]
        fields: Fields = {
            "@timestamp": _timestamp(match["ts"], ctx),
            "event.action": "log",
            "event.category": ["database"],
            "event.type": ["info"],
            "log.level": match["level"].lower(),
            "message": message,
            "host.name": prefix["host"] if prefix else None,
        }
        denied = _DENIED.search(message)
        if denied:
            host = denied["host"]
            fields.update(
                {
                    "event.action": "login-failed",
                    "event.category": ["authentication", "database"],
                    "event.type": ["start", "denied"],
                    "event.outcome": "failure",
                    "user.name": denied["user"],
                    "source.ip": as_ip(host),
                    "source.domain": host if as_ip(host) is None else None,
                    "mysql.using_password": denied["pw"] == "YES" if denied["pw"] else None,
                }
            )
        return fields
