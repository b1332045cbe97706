"""Zoom operation logs (admin activity) from the Reports API."""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_str, first_time, is_admin_role, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_ROLE_CHANGE = re.compile(r"Change Role\s+-\s+(?P<user>\S+): from (?P<old>.+?) to (?P<new>.+)$")
_ADD_USER = re.compile(r"Add User (?P<user>\S+)")


class ZoomNormalizer(JsonLinesNormalizer):
    """Zoom operation log entries, one per line."""

    name: ClassVar[str] = "zoom_operation"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "zoom"
    vendor: ClassVar[str | None] = "Zoom"
    product: ClassVar[str | None] = "Zoom"
    timestamp_fields: ClassVar[str] = "time"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has Zoom's operator and operation detail."""
        return "operator" in record and "operation_detail" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one operation log entry."""
        action = as_str(pick(record, "action")) or "unknown"
        category = as_str(pick(record, "category_type")) or "unknown"
        detail = as_str(pick(record, "operation_detail")) or ""
        fields: Fields = {
            "@timestamp": first_time(record, ("time",)),
            "event.action": f"{category} {action}".lower().replace(" ", "-"),
            "event.category": ["configuration"],
            "event.type": ["creation"] if action == "Add" else ["change"],
            "event.outcome": "success",
            "message": detail,
            "user.name": as_str(pick(record, "operator")),
        }
        if category in ("User", "User Group"):
            fields["event.category"] = ["iam"]
            fields["event.type"] = [
                "user" if category == "User" else "group",
                *fields["event.type"],
            ]
        role = _ROLE_CHANGE.search(detail)
        added = _ADD_USER.search(detail)
        if role:
            fields["user.target.name"] = role["user"]
            fields["socwb.iam.permission"] = role["new"].strip()
            if is_admin_role(role["new"]) and not is_admin_role(role["old"]):
                fields["event.type"] = [*fields["event.type"], "admin"]
                fields["socwb.iam.is_escalation"] = True
        elif added:
            fields["user.target.name"] = added["user"]
        if "Two-Factor" in detail:
            fields["socwb.auth.is_mfa_event"] = True
            fields["tags"] = ["mfa"]
        return fields
