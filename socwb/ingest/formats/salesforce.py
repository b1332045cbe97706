"""Salesforce event monitoring log records (Login, LoginAs, API events)."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_int, as_ip, as_str, first_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)


class SalesforceNormalizer(JsonLinesNormalizer):
    """Salesforce EventLogFile rows as JSON objects, one per line."""

    name: ClassVar[str] = "salesforce"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "salesforce"
    vendor: ClassVar[str | None] = "Salesforce"
    product: ClassVar[str | None] = "Event Monitoring"
    timestamp_fields: ClassVar[str] = "TIMESTAMP_DERIVED"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an event monitoring row."""
        return "EVENT_TYPE" in record and "ORGANIZATION_ID" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one row. `TIMESTAMP_DERIVED` is UTC by the Salesforce definition."""
        event_type = as_str(pick(record, "EVENT_TYPE")) or "unknown"
        status = as_str(pick(record, "LOGIN_STATUS"))
        fields: Fields = {
            "@timestamp": first_time(record, ("TIMESTAMP_DERIVED",), ("TIMESTAMP",)),
            "event.id": as_str(pick(record, "REQUEST_ID")),
            "event.action": event_type,
            "event.category": ["authentication"] if "Login" in event_type else ["web"],
            "event.type": ["start"] if "Login" in event_type else ["access"],
            "event.outcome": "unknown",
            "user.name": as_str(pick(record, "USER_NAME")) or as_str(pick(record, "USER_ID")),
            "user.id": as_str(pick(record, "USER_ID_DERIVED")),
            "source.ip": as_ip(pick(record, "SOURCE_IP")) or as_ip(pick(record, "CLIENT_IP")),
            "url.path": as_str(pick(record, "URI")),
            "user_agent.original": as_str(pick(record, "BROWSER_TYPE")),
            "event.duration": (as_int(pick(record, "RUN_TIME")) or 0) * 1_000_000 or None,
        }
        if status is not None:
            fields["event.outcome"] = "success" if status == "LOGIN_NO_ERROR" else "failure"
            fields["event.reason"] = status
        if event_type == "LoginAs":
            fields["event.type"] = ["start", "admin"]
            fields["event.outcome"] = "success"
            fields["user.name"] = as_str(pick(record, "DELEGATED_USER_NAME")) or fields["user.name"]
            fields["user.effective.id"] = as_str(pick(record, "USER_ID"))
        rows = as_int(pick(record, "ROWS_PROCESSED")) or as_int(pick(record, "ROW_COUNT"))
        fields["socwb.data.rows"] = rows
        return fields
