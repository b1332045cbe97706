"""F5 BIG-IP Application Security Manager (ASM) request logs in the key-value format.

A remote logging profile with the "Key-Value Pairs" (Splunk) format sends one syslog
message per request: `ASM:unit_hostname="bigip1",...,request_status="blocked",...`.
`date_time` is the device's local time with a year and no zone, so it is read in
`ParseContext.default_timezone`. Lines without `date_time` take the time from the
syslog header, which needs `ParseContext.default_year` for RFC 3164 headers.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    as_int,
    as_ip,
    timezone_named,
)
from socwb.ingest.formats._kv import parse_key_values, value_of
from socwb.ingest.model import ParseContext, RecordError, Source
from socwb.ingest.syslog import parse_syslog

logger = logging.getLogger(__name__)

_ASM_MARKER = re.compile(r"\bASM:\s*(?=[a-z_]+=\")")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


class F5AsmNormalizer(LineNormalizer):
    """BIG-IP ASM request log lines (`ASM:key="value",...`), optionally behind syslog."""

    name: ClassVar[str] = "f5_asm"
    source: ClassVar[Source] = "waf"
    module: ClassVar[str] = "f5"
    vendor: ClassVar[str | None] = "F5"
    product: ClassVar[str | None] = "BIG-IP ASM"
    timestamp_fields: ClassVar[str] = "date_time or syslog header"

    def sniff(self, head: str) -> bool:
        """Return whether the first line carries an ASM key-value message."""
        line = head.split("\n", 1)[0]
        return _ASM_MARKER.search(line) is not None and "request_status=" in line

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one ASM request log line."""
        marker = _ASM_MARKER.search(text)
        if marker is None:
            raise RecordError("not an F5 ASM key-value message: expected 'ASM:key=\"value\",...'")
        pairs = parse_key_values(text[marker.end() :], comma_separated=True)
        prefix = text[: marker.start()].strip()
        signature_ids = _split_list(value_of(pairs, "sig_ids"))
        fields: Fields = {
            "@timestamp": _timestamp(pairs, prefix, ctx),
            "host.name": value_of(pairs, "unit_hostname"),
            "event.id": value_of(pairs, "support_id"),
            "observer.type": "waf",
            "observer.ip": as_ip(value_of(pairs, "management_ip_address")),
            "source.ip": as_ip(value_of(pairs, "ip_client")),
            "source.port": as_int(value_of(pairs, "src_port")),
            "destination.ip": as_ip(value_of(pairs, "dest_ip")),
            "destination.port": as_int(value_of(pairs, "dest_port")),
            "user.name": value_of(pairs, "username"),
            "http.request.method": value_of(pairs, "method"),
            "http.response.status_code": as_int(value_of(pairs, "response_code")) or None,
            "url.path": value_of(pairs, "uri"),
            "url.original": _url(pairs),
            "url.scheme": (value_of(pairs, "protocol") or "").lower(),
            "rule.ruleset": value_of(pairs, "policy_name"),
            "rule.id": next(iter(signature_ids), None),
            "rule.name": value_of(pairs, "sig_names") or value_of(pairs, "violations"),
            "socwb.alert.severity": value_of(pairs, "severity"),
            "f5.asm.violations": _split_list(value_of(pairs, "violations")),
            "f5.asm.signature_ids": signature_ids,
            "f5.asm.attack_type": value_of(pairs, "attack_type"),
            "f5.asm.request_status": value_of(pairs, "request_status"),
            "f5.asm.violation_rating": as_int(value_of(pairs, "violation_rating")),
            "f5.asm.virtual_server": value_of(pairs, "vs_name"),
        }
        _classify(fields)
        return fields


def _timestamp(pairs: dict[str, str], prefix: str, ctx: ParseContext) -> datetime | None:
    local_time = value_of(pairs, "date_time")
    if local_time is not None and _DATE_TIME.fullmatch(local_time):
        zone = timezone_named(ctx.default_timezone)
        return datetime.fromisoformat(local_time).replace(tzinfo=zone)
    if prefix:
        return parse_syslog(prefix + " ASM: -", ctx).timestamp
    return None


def _url(pairs: dict[str, str]) -> str | None:
    path = value_of(pairs, "uri")
    query = value_of(pairs, "query_string")
    if path and query:
        return f"{path}?{query}"
    return path


def _split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _classify(fields: Fields) -> None:
    """Set action, category, type and outcome from `request_status` and the violations."""
    status = (fields.get("f5.asm.request_status") or "").lower()
    has_violations = bool(fields.get("f5.asm.violations"))
    if status == "blocked":
        action, types = "request-blocked", ["denied"]
    elif has_violations or status == "alerted":
        action, types = "rule-matched", ["info"]
    else:
        action, types = "request-allowed", ["allowed"]
    categories = ["web", "intrusion_detection"] if action != "request-allowed" else ["web"]
    fields["event.action"] = action
    fields["event.category"] = categories
    fields["event.type"] = types
    fields["event.outcome"] = "failure" if status == "blocked" else "success"
