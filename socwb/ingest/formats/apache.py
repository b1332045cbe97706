"""Apache httpd and nginx access logs in the "combined" (or "common") format."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LINE = re.compile(
    r"^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<ts>[^\]]+)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)
_REQUEST = re.compile(r"^(?P<method>[A-Z]+) (?P<url>\S+)(?: HTTP/(?P<version>[\d.]+))?$")


class ApacheAccessNormalizer(LineNormalizer):
    """Access log lines in the combined format.

    The Apache LogFormat is `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`;
    the common format without the last two fields is accepted too.
    """

    name: ClassVar[str] = "apache_access"
    source: ClassVar[Source] = "waf"
    module: ClassVar[str] = "apache"
    vendor: ClassVar[str | None] = "Apache"
    product: ClassVar[str | None] = "httpd"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is an access log line."""
        return bool(_LINE.match(head.split("\n", 1)[0]))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one access log line; the time carries its own UTC offset."""
        match = _LINE.match(text)
        if match is None:
            raise RecordError(
                "not a combined access log line: expected "
                "'host ident user [time] \"request\" status bytes'"
            )
        try:
            moment = datetime.strptime(match["ts"], "%d/%b/%Y:%H:%M:%S %z")
        except ValueError as exc:
            raise RecordError(f"invalid access log time {match['ts']!r}") from exc

        status = _optional(match["status"])
        fields: Fields = {
            "@timestamp": moment,
            "event.action": "http-request",
            "event.category": ["web"],
            "event.type": ["access"],
            "event.outcome": _outcome(status),
            "source.ip": as_ip(match["client"]),
            "source.domain": match["client"] if as_ip(match["client"]) is None else None,
            "user.name": _optional(match["user"]),
            "http.response.status_code": int(status) if status else None,
            "http.response.body.bytes": int(match["bytes"]) if match["bytes"] != "-" else None,
            "http.request.referrer": _optional(match["referrer"]),
            "user_agent.original": _optional(match["agent"]),
        }
        _add_request(fields, match["request"])
        if status in ("401", "403"):
            fields["event.type"] = ["access", "denied"]
        elif status == "429":
            fields["event.action"] = "rate-limited"
            fields["event.type"] = ["denied"]
        return fields


def _optional(value: str | None) -> str | None:
    """Return a log field, or None for the `-` placeholder."""
    return None if value in (None, "-") else value


def _outcome(status: str | None) -> str:
    if status is None:
        return "unknown"
    return "success" if int(status) < 400 else "failure"


def _add_request(fields: Fields, request_line: str) -> None:
    request = _REQUEST.match(request_line)
    if request is None:
        fields["url.original"] = request_line or None
        return
    fields["http.request.method"] = request["method"]
    fields["url.original"] = request["url"]
    fields["http.version"] = request["version"]
