"""Parsing of syslog headers: RFC 3164 (BSD), RFC 5424 and ISO-timestamped lines.

RFC 3164 timestamps (`Dec 10 06:55:46`) carry neither a year nor a zone. They take
both from `ParseContext.default_year` and `ParseContext.default_timezone`; a line is
rejected when no default year is set, because the local clock would silently
mislabel a file from an earlier year.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from socwb.ingest.formats._fields import parse_time, timezone_named
from socwb.ingest.model import ParseContext, RecordError

logger = logging.getLogger(__name__)

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

_PRI = r"(?:<(?P<pri>\d{1,3})>)?"
_TAG = r"(?P<app>[^\s:\[]+)(?:\[(?P<pid>[^\]]*)\])?:\s?"
_RFC3164 = re.compile(
    _PRI + r"(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+"
    r"(?P<time>\d{2}:\d{2}:\d{2})\s+(?P<host>\S+)\s+(?:" + _TAG + r")?(?P<msg>.*)$",
    re.DOTALL,
)
_RFC3164_NO_HOST = re.compile(
    _PRI + r"(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<time>\d{2}:\d{2}:\d{2})\s+"
    r"(?P<app>[^\s:\[]+)\[(?P<pid>\d+)\]:\s?(?P<msg>.*)$",
    re.DOTALL,
)
_RFC5424 = re.compile(
    _PRI + r"1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)\s?(?P<msg>.*)$",
    re.DOTALL,
)
_ISO_HEADER = re.compile(
    _PRI + r"(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"\s+(?P<host>\S+)\s+(?:" + _TAG + r")?(?P<msg>.*)$",
    re.DOTALL,
)


@dataclass(frozen=True)
class SyslogHeader:
    """The parsed header of one syslog line.

    Attributes:
        timestamp: Time of the message, timezone-aware.
        hostname: Host that sent the message, None when the line names no host.
        app_name: Program name (the tag before `[pid]:`), if present.
        process_id: Process id from the tag, if present.
        message: Text after the header.
        priority: The `<PRI>` value (facility * 8 + severity), if present.
    """

    timestamp: datetime
    hostname: str | None
    app_name: str | None
    process_id: int | None
    message: str
    priority: int | None


def looks_like_syslog(line: str) -> bool:
    """Return whether `line` starts with a syslog header this module can parse."""
    patterns = (_RFC5424, _RFC3164, _ISO_HEADER)
    return any(pattern.match(line) for pattern in patterns)


def parse_syslog(line: str, ctx: ParseContext) -> SyslogHeader:
    """Parse the syslog header of `line`.

    Args:
        line: One log line.
        ctx: Supplies the year and zone for RFC 3164 timestamps.

    Returns:
        The header fields and the remaining message.

    Raises:
        RecordError: The line has no syslog header, a bad date, or lacks a year and
            `ctx.default_year` is None.
    """
    match = _RFC5424.match(line) or _ISO_HEADER.match(line)
    if match is not None:
        moment = parse_time(match["ts"], timezone_named(ctx.default_timezone))
        if moment is None:
            raise RecordError(f"invalid syslog timestamp {match['ts']!r}")
        return _header(match, moment)
    match = _RFC3164_NO_HOST.match(line) or _RFC3164.match(line)
    if match is None:
        raise RecordError("not a syslog line: expected 'Mmm dd hh:mm:ss host tag: message'")
    return _header(match, _rfc3164_time(match, ctx))


def _rfc3164_time(match: re.Match[str], ctx: ParseContext) -> datetime:
    if ctx.default_year is None:
        raise RecordError(
            "syslog timestamp has no year: set the default year of the input "
            "(for example --year 2024)"
        )
    month = _MONTHS.get(match["month"])
    if month is None:
        raise RecordError(f"invalid month {match['month']!r} in syslog timestamp")
    hour, minute, second = (int(part) for part in match["time"].split(":"))
    zone = timezone_named(ctx.default_timezone)
    try:
        return datetime(
            ctx.default_year, month, int(match["day"]), hour, minute, second, tzinfo=zone
        )
    except ValueError as exc:
        raise RecordError(f"invalid syslog date: {exc}") from exc


def _header(match: re.Match[str], moment: datetime) -> SyslogHeader:
    groups = match.groupdict()
    pid = groups.get("pid")
    app = groups.get("app")
    return SyslogHeader(
        timestamp=moment,
        hostname=groups.get("host"),
        app_name=app if app and app != "-" else None,
        process_id=int(pid) if pid and pid.isdigit() else None,
        message=match["msg"],
        priority=int(match["pri"]) if match["pri"] else None,
    )
