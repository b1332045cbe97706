"""Okta System Log events (System Log API)."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_ip,
    as_list,
    as_str,
    first_time,
    is_admin_role,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_OUTCOMES = {"SUCCESS": "success", "ALLOW": "success", "FAILURE": "failure", "DENY": "failure"}
_MFA_ACTIONS = {
    "user.authentication.auth_via_mfa": "mfa-challenge",
    "user.mfa.factor.deactivate": "mfa-factor-deactivated",
    "system.mfa.factor.deactivate": "mfa-factor-deactivated",
    "user.mfa.factor.reset_all": "mfa-factors-reset",
    "user.mfa.factor.suspend": "mfa-factor-suspended",
    "user.mfa.factor.update": "mfa-factor-updated",
    "user.mfa.factor.activate": "mfa-factor-activated",
    "user.mfa.okta_verify.deny_push": "mfa-push-denied",
}
_IAM_PREFIXES = (
    "user.account.privilege",
    "user.lifecycle",
    "group.user_membership",
    "group.privilege",
    "application.user_membership",
    "user.account.reset_password",
    "user.account.update_password",
    "system.api_token",
)


class OktaNormalizer(JsonLinesNormalizer):
    """Okta System Log events, one per line."""

    name: ClassVar[str] = "okta"
    source: ClassVar[Source] = "idp"
    module: ClassVar[str] = "okta"
    vendor: ClassVar[str | None] = "Okta"
    product: ClassVar[str | None] = "Okta System Log"
    timestamp_fields: ClassVar[str] = "published"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the Okta actor and event type."""
        return pick(record, "eventType") is not None and isinstance(pick(record, "actor"), dict)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one System Log event."""
        event_type = as_str(pick(record, "eventType")) or "unknown"
        result = as_str(pick(record, "outcome", "result"))
        client = pick(record, "client")
        target_users = _targets(record, "User")
        fields: Fields = {
            "@timestamp": first_time(record, ("published",)),
            "event.id": as_str(pick(record, "uuid")),
            "event.action": event_type,
            "event.category": ["iam"],
            "event.type": ["info"],
            "event.outcome": _OUTCOMES.get((result or "").upper(), "unknown"),
            "event.reason": as_str(pick(record, "outcome", "reason")),
            "message": as_str(pick(record, "displayMessage")),
            "user.name": as_str(pick(record, "actor", "alternateId")),
            "user.id": as_str(pick(record, "actor", "id")),
            "user.full_name": as_str(pick(record, "actor", "displayName")),
            "user.target.name": target_users[0] if target_users else None,
            "group.name": next(iter(_targets(record, "UserGroup")), None),
            "source.ip": as_ip(pick(client, "ipAddress")),
            "source.geo.country_name": as_str(pick(client, "geographicalContext", "country")),
            "source.geo.city_name": as_str(pick(client, "geographicalContext", "city")),
            "user_agent.original": as_str(pick(client, "userAgent", "rawUserAgent")),
            "related.user": target_users,
        }
        _classify(fields, event_type, record)
        return fields


def _targets(record: Record, kind: str) -> list[str]:
    names = []
    for target in as_list(pick(record, "target")):
        if pick(target, "type") == kind:
            name = as_str(pick(target, "alternateId")) or as_str(pick(target, "displayName"))
            if name:
                names.append(name)
    return names


def _classify(fields: Fields, event_type: str, record: Record) -> None:
    if event_type in _MFA_ACTIONS:
        fields["event.category"] = ["authentication", "iam"]
        fields["event.type"] = ["change"] if "factor" in event_type else ["info"]
        fields["event.action"] = _MFA_ACTIONS[event_type]
        fields["socwb.auth.is_mfa_event"] = True
        fields["tags"] = ["mfa"]
        if event_type == "user.mfa.okta_verify.deny_push":
            fields["event.outcome"] = "failure"
    elif event_type.startswith(("user.session", "user.authentication", "policy.evaluate_sign_on")):
        fields["event.category"] = ["authentication"]
        fields["event.type"] = (
            ["start"] if "start" in event_type or "sso" in event_type else ["info"]
        )
    elif "rate_limit" in event_type:
        fields["event.category"] = ["network"]
        fields["event.type"] = ["denied"]
        fields["event.action"] = "rate-limited"
    elif event_type.startswith(_IAM_PREFIXES):
        _classify_iam(fields, event_type, record)
    elif event_type.startswith(("app.oauth2", "app.token", "app.generic")):
        fields["event.category"] = ["authentication"]
    else:
        fields["event.category"] = ["configuration"]
        fields["event.type"] = ["change"]


def _classify_iam(fields: Fields, event_type: str, record: Record) -> None:
    types = ["user"] if event_type.startswith("user.") else ["group"]
    if event_type.endswith((".create", ".add", ".grant")):
        types.append("creation" if event_type.endswith(".create") else "change")
    elif event_type.endswith((".delete", ".remove", ".revoke", ".deactivate")):
        types.append("deletion")
    else:
        types.append("change")
    privilege = as_str(pick(record, "debugContext", "debugData", "privilegeGranted"))
    is_admin_grant = event_type == "user.account.privilege.grant" or is_admin_role(
        fields.get("group.name")
    )
    if is_admin_grant and event_type.endswith((".grant", ".add")):
        types.append("admin")
        fields["socwb.iam.permission"] = privilege or fields.get("group.name")
        fields["socwb.iam.is_escalation"] = True
    fields["event.type"] = types
    fields["event.action"] = event_type
    if event_type.startswith("application.user_membership.show_password"):
        fields["event.category"] = ["iam", "file"]
        fields["event.type"] = ["access"]
