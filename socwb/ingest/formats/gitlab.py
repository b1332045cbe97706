"""GitLab audit events: streaming destinations and the audit events API, one JSON per line.

Streamed events carry `event_type` (GitLab 15.x and later); API records only carry
`details`, whose `add`, `remove` and `change` keys name what happened. Both are read
the same way. Owner grants mark escalation; removing a protected branch or allowing
force pushes to it is tagged `security-control-disabled`.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_bool,
    as_ip,
    as_str,
    first_time,
    is_admin_role,
    kebab,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_MEMBER_SUBJECTS = frozenset({"user_access", "member"})
_DEPLOY_CREDENTIALS = frozenset({"deploy_key", "deploy_token"})


class GitLabAuditNormalizer(JsonLinesNormalizer):
    """GitLab audit events from streaming or from `GET /audit_events`."""

    name: ClassVar[str] = "gitlab_audit"
    source: ClassVar[Source] = "cicd"
    module: ClassVar[str] = "gitlab"
    vendor: ClassVar[str | None] = "GitLab"
    product: ClassVar[str | None] = "GitLab"
    timestamp_fields: ClassVar[str] = "created_at"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the GitLab entity, author and details keys."""
        return (
            "entity_type" in record
            and isinstance(pick(record, "details"), dict)
            and ("author_id" in record or "event_type" in record)
        )

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one audit event."""
        details = pick(record, "details")
        event_type = as_str(pick(record, "event_type")) or as_str(pick(record, "event_name"))
        fields: Fields = {
            "@timestamp": first_time(record, ("created_at",), ("time",)),
            "event.id": as_str(pick(record, "id")),
            "event.action": kebab(event_type) if event_type else "audit-event",
            "event.category": ["configuration"],
            "event.type": ["change"],
            "event.outcome": "success",
            "message": as_str(pick(details, "custom_message")),
            "user.name": as_str(pick(record, "author_name"))
            or as_str(pick(details, "author_name")),
            "user.id": as_str(pick(record, "author_id")),
            "source.ip": as_ip(pick(record, "ip_address")) or as_ip(pick(details, "ip_address")),
            "gitlab.entity_type": as_str(pick(record, "entity_type")),
            "gitlab.entity_path": as_str(pick(record, "entity_path"))
            or as_str(pick(details, "entity_path")),
            "gitlab.target_type": as_str(pick(record, "target_type"))
            or as_str(pick(details, "target_type")),
            "gitlab.target_details": _target(record),
        }
        _classify(fields, event_type or "", details)
        return fields


def _target(record: Record) -> str | None:
    return as_str(pick(record, "target_details")) or as_str(
        pick(record, "details", "target_details")
    )


def _subject(details: Any) -> tuple[str, str]:
    """Return `(verb, subject)` from the `add`, `remove` or `change` detail."""
    for verb in ("add", "remove", "change"):
        subject = as_str(pick(details, verb))
        if subject:
            return verb, subject.lower()
    return "", ""


def _classify(fields: Fields, event_type: str, details: Any) -> None:
    verb, subject = _subject(details)
    name = event_type.lower()
    if name.startswith("member_") or subject in _MEMBER_SUBJECTS or subject == "access_level":
        _classify_member(fields, name, verb, details)
    elif "protected_branch" in name or "protected_branch" in subject or "force push" in subject:
        _classify_protected_branch(fields, name, verb, subject, details)
    elif name.startswith("deployment_"):
        fields["event.category"] = ["process"]
        fields["event.type"] = ["start"] if name.endswith("started") else ["info"]
        fields["event.outcome"] = "failure" if name.endswith("rejected") else "success"
    elif subject in _DEPLOY_CREDENTIALS or "deploy_key" in name or "deploy_token" in name:
        _classify_deploy_credential(fields, name, verb, subject)
    elif name.startswith("login_failed") or as_str(pick(details, "failed_login")):
        fields["event.category"] = ["authentication"]
        fields["event.type"] = ["start", "denied"]
        fields["event.outcome"] = "failure"
        fields["event.action"] = "login-failed"
        fields["user.name"] = fields.get("gitlab.target_details") or fields.get("user.name")
    elif name == "user_admin_status_changed":
        _classify_admin_status(fields, details)


def _classify_member(fields: Fields, name: str, verb: str, details: Any) -> None:
    removed = verb == "remove" or name.endswith(("destroyed", "removed"))
    added = verb == "add" or name.endswith(("created", "added"))
    role = as_str(pick(details, "as")) or as_str(pick(details, "to"))
    fields["event.category"] = ["iam"]
    fields["user.target.name"] = fields.get("gitlab.target_details")
    if removed:
        fields["event.type"] = ["user", "deletion"]
        fields["event.action"] = "member-removed"
        return
    fields["event.type"] = ["user", "creation" if added else "change"]
    fields["event.action"] = "member-added" if added else "member-role-changed"
    fields["socwb.iam.permission"] = role
    if is_admin_role(role):
        fields["event.type"].append("admin")
        fields["socwb.iam.is_escalation"] = True


def _classify_protected_branch(
    fields: Fields, name: str, verb: str, subject: str, details: Any
) -> None:
    removed = verb == "remove" or name.endswith(("removed", "destroyed", "deleted"))
    created = verb == "add" or name.endswith(("created", "added"))
    allows_force_push = as_bool(pick(details, "allow_force_push")) is True or (
        "force push" in subject and as_bool(pick(details, "to")) is True
    )
    fields["event.category"] = ["configuration"]
    if removed:
        event_type, verb_name = "deletion", "removed"
    elif created:
        event_type, verb_name = "creation", "created"
    else:
        event_type, verb_name = "change", "changed"
    fields["event.type"] = [event_type]
    fields["event.action"] = f"protected-branch-{verb_name}"
    fields["gitlab.branch"] = fields.get("gitlab.target_details")
    if removed or allows_force_push:
        fields["tags"] = ["security-control-disabled"]


def _classify_deploy_credential(fields: Fields, name: str, verb: str, subject: str) -> None:
    kind = "deploy-token" if "token" in (subject or name) else "deploy-key"
    removed = verb == "remove" or name.endswith(("removed", "revoked", "destroyed", "deleted"))
    fields["event.category"] = ["iam"]
    fields["event.type"] = ["deletion"] if removed else ["creation"]
    fields["event.action"] = f"{kind}-removed" if removed else f"{kind}-added"


def _classify_admin_status(fields: Fields, details: Any) -> None:
    # NOTE: the `to` value of this event is read as a boolean (`true` grants admin);
    # no GitLab sample of `user_admin_status_changed` was available to confirm it.
    granted = as_bool(pick(details, "to")) is True
    fields["event.category"] = ["iam"]
    fields["event.type"] = ["user", "change"]
    fields["user.target.name"] = fields.get("gitlab.target_details")
    fields["socwb.iam.permission"] = "admin" if granted else None
    if granted:
        fields["event.type"].append("admin")
        fields["socwb.iam.is_escalation"] = True
