"""osquery differential (and snapshot) result logs."""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_int, as_ip, as_str, first_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)


class OsqueryNormalizer(JsonLinesNormalizer):
    """osquery result log lines (`name`, `action`, `columns`), one per line."""

    name: ClassVar[str] = "osquery"
    source: ClassVar[Source] = "edr"
    module: ClassVar[str] = "osquery"
    vendor: ClassVar[str | None] = "osquery"
    product: ClassVar[str | None] = "osquery"
    timestamp_fields: ClassVar[str] = "unixTime or calendarTime"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a result line."""
        return "name" in record and isinstance(pick(record, "columns"), dict) and "action" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one result row."""
        query = as_str(pick(record, "name")) or "unknown"
        columns = pick(record, "columns")
        action = as_str(pick(record, "action")) or "snapshot"
        fields: Fields = {
            "@timestamp": first_time(record, ("unixTime",), ("calendarTime",), ("epoch",)),
            "event.action": f"{_short_name(query)}-{action}",
            "event.category": ["host"],
            "event.type": ["creation"]
            if action == "added"
            else ["deletion"]
            if action == "removed"
            else ["info"],
            "host.name": as_str(pick(record, "hostIdentifier"))
            or as_str(pick(record, "decorations", "hostname")),
            "rule.name": query,
            "user.name": as_str(pick(columns, "username")) or as_str(pick(columns, "user")),
            "osquery.columns": {str(key): str(value) for key, value in columns.items()},
        }
        command = as_str(pick(columns, "command")) or as_str(pick(columns, "cmdline"))
        if command:
            fields["event.category"] = ["process"]
            fields["event.type"] = ["info"]
            fields["process.command_line"] = command
            fields["process.name"] = (
                command.split()[0].rsplit("/", 1)[-1] if command.split() else None
            )
            fields["process.pid"] = as_int(pick(columns, "pid"))
        if "listening_ports" in query:
            fields["event.category"] = ["network"]
            fields["destination.ip"] = as_ip(pick(columns, "address"))
            fields["destination.port"] = as_int(pick(columns, "port"))
        if "logged_in_users" in query or query.endswith("last"):
            fields["event.category"] = ["session"]
            fields["source.ip"] = as_ip(pick(columns, "host"))
        return fields


def _short_name(query: str) -> str:
    return re.split(r"[/_-]", query.replace("pack", "", 1).strip("/_-"))[-1] or query
