"""OneLogin Events API records."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_ip,
    as_str,
    first_time,
    is_admin_role,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

# NOTE: the ids below come from the OneLogin event type list (GET /api/1/events/types)
# as remembered and checked against the sample events, not against the live endpoint.
_EVENT_TYPES: dict[int, tuple[str, list[str], list[str], str]] = {
    5: ("login-succeeded", ["authentication"], ["start"], "success"),
    6: ("login-failed", ["authentication"], ["start"], "failure"),
    8: ("app-password-viewed", ["iam"], ["access"], "success"),
    11: ("user-updated", ["iam"], ["user", "change"], "success"),
    13: ("user-created", ["iam"], ["user", "creation"], "success"),
    17: ("user-deleted", ["iam"], ["user", "deletion"], "success"),
    72: ("privilege-granted", ["iam"], ["user", "change", "admin"], "success"),
    240: ("user-password-viewed-by-admin", ["iam"], ["access"], "success"),
}


class OneLoginNormalizer(JsonLinesNormalizer):
    """OneLogin event records, one per line."""

    name: ClassVar[str] = "onelogin"
    source: ClassVar[Source] = "idp"
    module: ClassVar[str] = "onelogin"
    vendor: ClassVar[str | None] = "OneLogin"
    product: ClassVar[str | None] = "OneLogin"
    timestamp_fields: ClassVar[str] = "created_at"

    def matches(self, record: Record) -> bool:
        """Return whether `record` carries a OneLogin event type id."""
        return "event_type_id" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one event."""
        type_id = as_str(pick(record, "event_type_id")) or "0"
        number = int(type_id) if type_id.isdigit() else 0
        action, category, types, outcome = _EVENT_TYPES.get(
            number, (f"event-type-{type_id}", ["iam"], ["info"], "unknown")
        )
        actor = as_str(pick(record, "actor_user_name"))
        subject = as_str(pick(record, "user_name"))
        privilege = as_str(pick(record, "privilege_name"))
        fields: Fields = {
            "@timestamp": first_time(record, ("created_at",)),
            "event.id": as_str(pick(record, "id")),
            "event.code": type_id,
            "event.action": action,
            "event.category": category,
            "event.type": types,
            "event.outcome": outcome,
            "user.name": actor or subject,
            "user.target.name": subject if actor and subject != actor else None,
            "source.ip": as_ip(pick(record, "ipaddr")),
            "service.name": as_str(pick(record, "app_name")),
            "socwb.iam.permission": privilege,
        }
        if number == 72 and is_admin_role(privilege):
            fields["socwb.iam.is_escalation"] = True
        if pick(record, "otp_device_name") or pick(record, "authentication_factor_description"):
            fields["socwb.auth.is_mfa_event"] = True
            fields["tags"] = ["mfa"]
        return fields
