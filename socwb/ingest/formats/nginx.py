"""nginx error_log lines: basic-auth failures, `limit_req`/`limit_conn` rejections."""

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
    r"(?P<ts>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(?P<level>[a-z]+)\] "
    r"(?P<pid>\d+)#(?P<tid>\d+): (?:\*(?P<cid>\d+) )?(?P<msg>.*)$"
)
_CONTEXT = re.compile(
    r", (?P<key>client|server|request|host|referrer|upstream): (?P<value>\"[^\"]*\"|[^,]*)"
)
_AUTH_USER = re.compile(r"user [\"'](?P<user>[^\"']*)[\"']")
_REQUEST = re.compile(r"^(?P<method>[A-Z]+) (?P<url>\S+) HTTP/(?P<version>[\d.]+)$")


def _context(message: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for match in _CONTEXT.finditer(message):
        values.setdefault(match["key"], match["value"].strip('"'))
    return values


class NginxErrorNormalizer(LineNormalizer):
    """nginx error_log lines, optionally behind a syslog or journal prefix.

    nginx writes local time without a zone, so times use `ctx.default_timezone`.
    """

    name: ClassVar[str] = "nginx_error"
    source: ClassVar[Source] = "waf"
    module: ClassVar[str] = "nginx"
    vendor: ClassVar[str | None] = "F5"
    product: ClassVar[str | None] = "nginx"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is an nginx error_log line."""
        return bool(_LINE.search(head.split("\n", 1)[0]))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one error_log line."""
        match = _LINE.search(text)
        if match is None:
            raise RecordError(
                "not an nginx error_log line: expected 'yyyy/mm/dd hh:mm:ss [level] pid#tid: ...'"
            )
        zone = timezone_named(ctx.default_timezone)
        message = match["msg"]
        context = _context(message)
        fields: Fields = {
            "@timestamp": datetime.strptime(match["ts"], "%Y/%m/%d %H:%M:%S").replace(tzinfo=zone),
            "event.action": "log",
            "event.category": ["web"],
            "event.type": ["info"],
            "log.level": match["level"],
            "message": message,
            "process.pid": int(match["pid"]),
            "source.ip": as_ip(context.get("client")),
            "url.domain": context.get("host"),
            "http.request.referrer": context.get("referrer"),
        }
        request = _REQUEST.match(context.get("request", ""))
        if request:
            fields["http.request.method"] = request["method"]
            fields["url.original"] = request["url"]
            fields["http.version"] = request["version"]
        _classify(fields, message)
        return fields


def _classify(fields: Fields, message: str) -> None:
    zone = re.search(r'by zone "(?P<zone>[^"]+)"', message)
    if message.startswith(("limiting requests", "limiting connections")):
        fields["event.action"] = "rate-limited"
        fields["event.category"] = ["web", "network"]
        fields["event.type"] = ["denied"]
        fields["event.outcome"] = "failure"
    elif message.startswith("delaying request"):
        fields["event.action"] = "request-delayed"
        fields["event.outcome"] = "success"
    elif (
        "password mismatch" in message
        or "was not found in" in message
        or ("not authenticated" in message)
    ):
        user = _AUTH_USER.search(message)
        fields["event.action"] = "http-auth-failed"
        fields["event.category"] = ["authentication", "web"]
        fields["event.type"] = ["start"]
        fields["event.outcome"] = "failure"
        fields["user.name"] = user["user"] if user else None
        fields["event.reason"] = "unknown user" if "was not found" in message else "wrong password"
    elif "SSL_do_handshake() failed" in message:
        fields["event.action"] = "tls-handshake-failed"
        fields["event.category"] = ["network"]
        fields["event.outcome"] = "failure"
    if zone:
        fields["rule.name"] = zone["zone"]
