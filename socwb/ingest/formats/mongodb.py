"""MongoDB server logs (legacy text and 4.4+ structured JSON) and Atlas events."""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer, LineNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_ip,
    as_str,
    first_time,
    load_json_object,
    parse_time,
    pick,
)
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_TEXT_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+"
    r"(?:(?P<severity>[FEWID]\d?)\s+(?P<component>[A-Z]+|-)\s+)?\[(?P<context>[^\]]+)\]\s+(?P<msg>.*)$"
)
_AUTH_FAILED = re.compile(r"Failed to authenticate (?P<user>[^@\s]+)@(?P<db>\S+)")
_REMOTE = re.compile(
    r"(?:connection accepted from|end connection) (?P<ip>[0-9a-fA-F.:]+):(?P<port>\d+)"
)
_AUTH_COMMAND = re.compile(r'authenticate db: (?P<db>\S+) .*user: "(?P<user>[^"]+)"')


def _offset_fix(stamp: str) -> str:
    return re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", stamp)


class MongoDbLogNormalizer(LineNormalizer):
    """MongoDB server log lines, text (before 4.4) or structured JSON (4.4 and later)."""

    name: ClassVar[str] = "mongodb_log"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "mongodb"
    vendor: ClassVar[str | None] = "MongoDB"
    product: ClassVar[str | None] = "MongoDB"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is a MongoDB text or JSON log line."""
        line = head.split("\n", 1)[0]
        return bool(_TEXT_LINE.match(line)) or (line.startswith('{"t":{"$date"') and '"c":' in line)

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one log line."""
        if text.lstrip().startswith("{"):
            return _structured(load_json_object(text))
        match = _TEXT_LINE.match(text)
        if match is None:
            raise RecordError("not a MongoDB log line: expected 'time [context] message'")
        fields: Fields = {
            "@timestamp": parse_time(_offset_fix(match["ts"])),
            "event.action": "log",
            "event.category": ["database"],
            "event.type": ["info"],
            "message": match["msg"],
            "mongodb.context": match["context"],
            "log.level": match["severity"],
        }
        _classify_message(fields, match["msg"])
        return fields


def _structured(record: Record) -> Fields:
    attributes = pick(record, "attr")
    message = as_str(pick(record, "msg")) or ""
    fields: Fields = {
        "@timestamp": first_time(record, ("t", "$date")),
        "event.action": "log",
        "event.category": ["database"],
        "event.type": ["info"],
        "event.code": as_str(pick(record, "id")),
        "message": message,
        "mongodb.context": as_str(pick(record, "ctx")),
        "log.level": as_str(pick(record, "s")),
        "user.name": as_str(pick(attributes, "user")) or as_str(pick(attributes, "principalName")),
        "source.ip": as_ip(pick(attributes, "remote")) or as_ip(pick(attributes, "client")),
    }
    if message.startswith("Authentication failed"):
        _mark_login(fields, "failure")
    elif message.startswith("Authentication succeeded") or message == "Successfully authenticated":
        _mark_login(fields, "success")
    return fields


def _mark_login(fields: Fields, outcome: str) -> None:
    fields["event.category"] = ["authentication", "database"]
    fields["event.type"] = ["start"]
    fields["event.action"] = "login-failed" if outcome == "failure" else "login-succeeded"
    fields["event.outcome"] = outcome


def _classify_message(fields: Fields, message: str) -> None:
    failed = _AUTH_FAILED.search(message)
    command = _AUTH_COMMAND.search(message)
    remote = _REMOTE.search(message)
    if failed or command:
        found: Any = failed or command
        _mark_login(fields, "failure" if failed else "unknown")
        fields["event.action"] = "login-failed" if failed else "authenticate-command"
        fields["user.name"] = found["user"]
        fields["mongodb.database"] = found["db"]
    if remote:
        fields["source.ip"] = as_ip(remote["ip"])
        fields["source.port"] = int(remote["port"])
        fields["event.category"] = ["network", "database"]
        accepted = message.startswith("connection accepted")
        fields["event.type"] = ["connection", "start" if accepted else "end"]
        fields["event.action"] = "connection-accepted" if accepted else "connection-ended"


_ATLAS_ADMIN_EVENTS = frozenset(
    {"USER_ROLES_CHANGED_AUDIT", "GROUP_ROLES_CHANGED", "ORG_ROLES_CHANGED", "JOINED_GROUP"}
)


class MongoDbAtlasNormalizer(JsonLinesNormalizer):
    """MongoDB Atlas organization and project events, one per line."""

    name: ClassVar[str] = "mongodb_atlas"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "mongodb"
    vendor: ClassVar[str | None] = "MongoDB"
    product: ClassVar[str | None] = "Atlas"
    timestamp_fields: ClassVar[str] = "created"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an Atlas event."""
        return "created" in record and pick(record, "eventTypeName") is not None

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one Atlas event."""
        event_type = as_str(pick(record, "eventTypeName")) or "unknown"
        fields: Fields = {
            "@timestamp": first_time(record, ("created",)),
            "event.id": as_str(pick(record, "id")),
            "event.action": event_type,
            "event.category": ["configuration"],
            "event.type": ["change"],
            "event.outcome": "success",
            "user.name": as_str(pick(record, "username")),
            "user.target.name": as_str(pick(record, "targetUsername")),
            "source.ip": as_ip(pick(record, "remoteAddress")),
            "organization.id": as_str(pick(record, "orgId")),
        }
        if event_type in _ATLAS_ADMIN_EVENTS or "ROLE" in event_type or "INVITED" in event_type:
            fields["event.category"] = ["iam"]
            fields["event.type"] = ["user", "change"]
        if "ACCESS_LIST" in event_type or "WHITELIST" in event_type:
            fields["event.category"] = ["configuration", "network"]
            entry = as_str(pick(record, "whitelistEntry")) or as_str(
                pick(record, "accessListEntry")
            )
            fields["rule.name"] = entry
            if entry in ("0.0.0.0/0", "::/0"):
                fields["socwb.network.is_open_to_world"] = True
        return fields
