"""Box enterprise events (Events API, `stream_type=admin_logs`)."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_int, as_ip, as_str, first_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_CATEGORIES: dict[str, tuple[list[str], list[str], str]] = {
    "LOGIN": (["authentication"], ["start"], "success"),
    "FAILED_LOGIN": (["authentication"], ["start"], "failure"),
    "DOWNLOAD": (["file"], ["access"], "success"),
    "PREVIEW": (["file"], ["access"], "success"),
    "DELETE": (["file"], ["deletion"], "success"),
    "UPLOAD": (["file"], ["creation"], "success"),
    "ITEM_SHARED_CREATE": (["file", "iam"], ["change"], "success"),
    "CHANGE_FOLDER_PERMISSION": (["file", "iam"], ["change"], "success"),
    "ACCESS_GRANTED": (["iam"], ["change", "admin"], "success"),
    "SHIELD_ALERT": (["threat"], ["indicator"], "unknown"),
    "FILE_MARKED_MALICIOUS": (["malware"], ["info"], "unknown"),
    "DEVICE_TRUST_CHECK_FAILED": (["authentication"], ["denied"], "failure"),
    "ADD_LOGIN_ACTIVITY_DEVICE": (["authentication"], ["info"], "success"),
}


class BoxNormalizer(JsonLinesNormalizer):
    """Box enterprise event objects, one per line."""

    name: ClassVar[str] = "box"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "box"
    vendor: ClassVar[str | None] = "Box"
    product: ClassVar[str | None] = "Box"
    timestamp_fields: ClassVar[str] = "created_at"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a Box event."""
        return pick(record, "type") == "event" and "event_type" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one Box event."""
        event_type = as_str(pick(record, "event_type")) or "UNKNOWN"
        category, types, outcome = _CATEGORIES.get(event_type, (["file"], ["info"], "unknown"))
        item = pick(record, "source")
        fields: Fields = {
            "@timestamp": first_time(record, ("created_at",), ("recorded_at",)),
            "event.id": as_str(pick(record, "event_id")),
            "event.action": event_type.lower().replace("_", "-"),
            "event.category": category,
            "event.type": types,
            "event.outcome": outcome,
            "user.name": as_str(pick(record, "created_by", "login"))
            or as_str(pick(record, "created_by", "name")),
            "user.id": as_str(pick(record, "created_by", "id")),
            "source.ip": as_ip(pick(record, "ip_address")),
            "file.name": as_str(pick(item, "item_name")) or as_str(pick(item, "name"))
            if pick(item, "type") != "user"
            else None,
            "file.size": as_int(pick(item, "size")),
        }
        if event_type in ("SHIELD_ALERT", "FILE_MARKED_MALICIOUS"):
            fields["event.kind"] = "alert"
        if event_type == "DOWNLOAD":
            fields["socwb.data.bytes"] = as_int(pick(item, "size"))
        if event_type.startswith("CONTENT_WORKFLOW") and "VIOLATION" in event_type:
            fields["event.category"] = ["file", "intrusion_detection"]
            fields["event.type"] = ["denied"]
        return fields
