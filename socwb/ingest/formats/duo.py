"""Duo Admin API authentication logs and administrator logs."""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_ip, as_str, first_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_FAILED_RESULTS = frozenset({"denied", "fraud", "failure", "error"})


class DuoNormalizer(JsonLinesNormalizer):
    """Duo authentication log (v2) and administrator log records, one per line."""

    name: ClassVar[str] = "duo"
    source: ClassVar[Source] = "idp"
    module: ClassVar[str] = "duo"
    vendor: ClassVar[str | None] = "Cisco"
    product: ClassVar[str | None] = "Duo"
    timestamp_fields: ClassVar[str] = "isotimestamp or timestamp"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a Duo authentication or administrator record."""
        is_auth = pick(record, "event_type") == "authentication" and "factor" in record
        is_admin = "action" in record and "username" in record and "isotimestamp" in record
        return is_auth or is_admin

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one record."""
        if "factor" in record or pick(record, "event_type") == "authentication":
            return _authentication(record)
        return _administrator(record)


def _authentication(record: Record) -> Fields:
    result = (as_str(pick(record, "result")) or "unknown").lower()
    factor = as_str(pick(record, "factor")) or "unknown"
    reason = as_str(pick(record, "reason"))
    outcome = "unknown"
    if result in _FAILED_RESULTS:
        outcome = "failure"
    elif result == "success":
        outcome = "success"
    verdict = "approved" if outcome == "success" else "denied"
    # `duo_push` becomes `mfa-push-denied`, the action other MFA vendors use too.
    action = f"mfa-{factor.removeprefix('duo_').replace('_', '-')}-{verdict}"
    if reason == "user_marked_fraud":
        action = "mfa-push-fraud-reported"
    return {
        "@timestamp": first_time(record, ("isotimestamp",), ("timestamp",)),
        "event.id": as_str(pick(record, "txid")),
        "event.action": action,
        "event.category": ["authentication"],
        "event.type": ["start"],
        "event.outcome": outcome,
        "event.reason": reason,
        "user.name": as_str(pick(record, "user", "name")),
        "source.ip": as_ip(pick(record, "access_device", "ip")),
        "host.os.name": as_str(pick(record, "access_device", "os")),
        "service.name": as_str(pick(record, "application", "name")),
        "socwb.auth.is_mfa_event": True,
        "socwb.auth.mfa_factor": factor,
        "tags": ["mfa"],
    }


def _description(record: Record) -> dict[str, Any]:
    text = pick(record, "description")
    if isinstance(text, str):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return {}
        return value if isinstance(value, dict) else {}
    return text if isinstance(text, dict) else {}


def _administrator(record: Record) -> Fields:
    action = as_str(pick(record, "action")) or "unknown"
    details = _description(record)
    fields: Fields = {
        "@timestamp": first_time(record, ("isotimestamp",), ("timestamp",)),
        "event.action": action,
        "event.category": ["iam"],
        "event.type": ["change"],
        "event.outcome": "success",
        "user.name": as_str(pick(record, "username")),
        "user.email": as_str(details.get("email")),
        "source.ip": as_ip(details.get("ip_address")),
        "user.target.name": as_str(pick(record, "object")),
    }
    if action in ("admin_login", "admin_2fa_error", "admin_lockout", "admin_login_error"):
        fields["event.category"] = ["authentication"]
        fields["event.type"] = ["start"]
        fields["event.outcome"] = "success" if action == "admin_login" else "failure"
    if action in ("admin_2fa_error", "bypass_create", "bypass_detele", "bypass_delete"):
        fields["socwb.auth.is_mfa_event"] = True
        fields["tags"] = ["mfa"]
    if action == "admin_create":
        fields["event.type"] = ["user", "creation", "admin"]
        fields["socwb.iam.permission"] = as_str(details.get("role"))
        fields["socwb.iam.is_escalation"] = True
    elif action.endswith("_create"):
        fields["event.type"] = ["creation"]
    elif action.endswith(("_delete", "_detele")):
        fields["event.type"] = ["deletion"]
    elif action.endswith("_view"):
        fields["event.category"] = ["configuration"]
        fields["event.type"] = ["access"]
    return fields
