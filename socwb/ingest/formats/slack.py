"""Slack Enterprise Grid audit logs API entries."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_ip, as_str, first_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_ADMIN_ROLE_ACTIONS = frozenset(
    {"role_change_to_admin", "role_change_to_owner", "owner_transferred"}
)


class SlackAuditNormalizer(JsonLinesNormalizer):
    """Slack audit log entries, one per line."""

    name: ClassVar[str] = "slack_audit"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "slack"
    vendor: ClassVar[str | None] = "Slack"
    product: ClassVar[str | None] = "Slack Audit Logs"
    timestamp_fields: ClassVar[str] = "date_create"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an audit entry (actor, action and context)."""
        return (
            "action" in record and isinstance(pick(record, "actor"), dict) and "context" in record
        )

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one audit entry."""
        action = as_str(pick(record, "action")) or "unknown"
        entity_type = as_str(pick(record, "entity", "type"))
        fields: Fields = {
            "@timestamp": first_time(record, ("date_create",)),
            "event.id": as_str(pick(record, "id")),
            "event.action": action,
            "event.category": ["configuration"],
            "event.type": ["change"],
            "event.outcome": "success",
            "user.name": as_str(pick(record, "actor", "user", "email"))
            or as_str(pick(record, "actor", "user", "name")),
            "user.id": as_str(pick(record, "actor", "user", "id")),
            "source.ip": as_ip(pick(record, "context", "ip_address")),
            "user_agent.original": as_str(pick(record, "context", "ua")),
            "organization.name": as_str(pick(record, "context", "location", "name")),
            "user.target.name": as_str(pick(record, "entity", "user", "email"))
            or as_str(pick(record, "entity", "user", "name"))
            if entity_type == "user"
            else None,
        }
        if action.startswith(("role_change", "owner_transferred", "permissions_assigned")):
            fields["event.category"] = ["iam"]
            fields["event.type"] = ["user", "change"]
            if action in _ADMIN_ROLE_ACTIONS:
                fields["event.type"] = ["user", "change", "admin"]
                fields["socwb.iam.is_escalation"] = True
                fields["socwb.iam.permission"] = action.rsplit("_", 1)[-1]
        elif action in ("anomaly", "file_malicious_content_detected"):
            fields["event.kind"] = "alert"
            fields["event.category"] = ["malware"] if "malicious" in action else ["threat"]
            fields["event.type"] = ["info"] if "malicious" in action else ["indicator"]
        elif action.startswith(("user_session", "bulk_session")):
            fields["event.category"] = ["authentication", "session"]
            fields["event.type"] = ["end"]
        elif action == "pref.two_factor_auth_changed":
            fields["socwb.auth.is_mfa_event"] = True
            fields["tags"] = ["mfa"]
        if pick(record, "details", "export_type"):
            fields["event.category"] = ["file"]
            fields["event.type"] = ["access"]
        return fields
