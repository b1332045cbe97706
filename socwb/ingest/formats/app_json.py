"""The production application's own security events (schema `socwb.app/1`).

One JSON object per line. The schema is documented in docs/ecs-fields.md; in short:
`schema`, `timestamp`, `event_id`, `type` (authentication, authorization or
data_access), `action`, `outcome` and `actor.name` are required, and `source`,
`target`, `auth`, `decision`, `data`, `service`, `host` and `reason` are optional.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_bool,
    as_int,
    as_ip,
    as_list,
    as_str,
    is_admin_role,
    kebab,
    parse_time,
    pick,
)
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

SCHEMA_ID = "socwb.app/1"
EVENT_TYPES = ("authentication", "authorization", "data_access")
OUTCOMES = ("success", "failure", "unknown")
_REQUIRED = ("timestamp", "event_id", "type", "action", "outcome")
_EXPORT_ACTIONS = frozenset({"export", "download", "bulk_read"})


class AppJsonNormalizer(JsonLinesNormalizer):
    """Application events in the `socwb.app/1` JSON schema, one per line."""

    name: ClassVar[str] = "app_json"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "app"
    vendor: ClassVar[str | None] = "socwb"
    product: ClassVar[str | None] = "application"

    def matches(self, record: Record) -> bool:
        """Return whether `record` declares the `socwb.app/1` schema."""
        return record.get("schema") == SCHEMA_ID

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Validate and convert one application event."""
        _validate(record)
        event_type = str(record["type"])
        action = str(record["action"])
        fields: Fields = {
            "@timestamp": parse_time(record["timestamp"]),
            "event.id": str(record["event_id"]),
            "event.action": kebab(action),
            "event.outcome": record["outcome"],
            "event.reason": as_str(record.get("reason")),
            "user.name": as_str(pick(record, "actor", "name")),
            "user.id": as_str(pick(record, "actor", "id")),
            "user.roles": [str(role) for role in as_list(pick(record, "actor", "roles"))],
            "source.ip": as_ip(pick(record, "source", "ip")),
            "user_agent.original": as_str(pick(record, "source", "user_agent")),
            "service.name": as_str(record.get("service")),
            "host.name": as_str(record.get("host")),
        }
        if fields["@timestamp"] is None:
            raise RecordError("invalid timestamp: expected ISO 8601 with a UTC offset")
        {"authentication": _authentication, "authorization": _authorization}.get(
            event_type, _data_access
        )(fields, record, action)
        return fields


def _validate(record: Record) -> None:
    missing = [key for key in _REQUIRED if record.get(key) in (None, "")]
    if pick(record, "actor", "name") in (None, ""):
        missing.append("actor.name")
    if missing:
        raise RecordError(f"invalid {SCHEMA_ID} event: missing {', '.join(missing)}")
    if record["type"] not in EVENT_TYPES:
        raise RecordError(
            f"invalid {SCHEMA_ID} event: type {record['type']!r} is not one of "
            f"{', '.join(EVENT_TYPES)}"
        )
    if record["outcome"] not in OUTCOMES:
        raise RecordError(
            f"invalid {SCHEMA_ID} event: outcome {record['outcome']!r} is not one of "
            f"{', '.join(OUTCOMES)}"
        )


def _authentication(fields: Fields, record: Record, action: str) -> None:
    fields["event.category"] = ["authentication"]
    fields["event.type"] = ["end"] if action == "logout" else ["start"]
    fields["socwb.auth.method"] = as_str(pick(record, "auth", "method"))
    fields["socwb.auth.mfa_used"] = as_bool(pick(record, "auth", "mfa"))
    fields["socwb.auth.mfa_factor"] = as_str(pick(record, "auth", "mfa_method"))
    if action.startswith("mfa"):
        fields["socwb.auth.is_mfa_event"] = True
        fields["tags"] = ["mfa"]


def _authorization(fields: Fields, record: Record, action: str) -> None:
    allowed = as_bool(pick(record, "decision", "allowed"))
    permission = as_str(pick(record, "decision", "permission"))
    fields["event.category"] = ["iam"]
    fields["event.type"] = ["info", "allowed" if allowed else "denied"]
    fields["socwb.iam.permission"] = permission
    fields["rule.name"] = as_str(pick(record, "decision", "policy"))
    fields["user.target.name"] = as_str(pick(record, "target", "name"))
    if action == "role_grant":
        fields["event.type"] = ["user", "change"]
        if is_admin_role(permission):
            fields["event.type"].append("admin")
            fields["socwb.iam.is_escalation"] = True
    elif action == "user_create":
        fields["event.type"] = ["user", "creation"]


def _data_access(fields: Fields, record: Record, action: str) -> None:
    data: Any = record.get("data")
    fields["event.category"] = ["database"]
    fields["event.type"] = ["access"]
    fields["socwb.data.rows"] = as_int(pick(data, "records"))
    fields["socwb.data.bytes"] = as_int(pick(data, "bytes"))
    fields["socwb.data.resource"] = as_str(pick(data, "resource"))
    if action in _EXPORT_ACTIONS:
        fields["event.action"] = "data-export"
