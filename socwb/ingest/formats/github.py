"""GitHub organization/enterprise audit log events and webhook payloads."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_ip,
    as_str,
    first_time,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_ADMIN_ACTIONS = frozenset(
    {"business.add_admin", "business.invite_admin", "team.promote_maintainer"}
)
_SECURITY_DISABLES = (
    "disable_two_factor_requirement",
    "saml_disabled",
    "disable_oauth_app_restrictions",
    "ip_allow_list.disable",
)
_IAM_PREFIXES = ("org.", "team.", "business.", "organization_moderators.", "repo.add_member")


class GitHubAuditNormalizer(JsonLinesNormalizer):
    """GitHub audit log events (REST API or streaming export), one per line."""

    name: ClassVar[str] = "github_audit"
    source: ClassVar[Source] = "cicd"
    module: ClassVar[str] = "github"
    vendor: ClassVar[str | None] = "GitHub"
    product: ClassVar[str | None] = "GitHub Audit Log"
    timestamp_fields: ClassVar[str] = "@timestamp or created_at"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an audit event (`actor` and a dotted `action`)."""
        action = as_str(pick(record, "action")) or ""
        return "actor" in record and ("." in action or "org" in record or "_document_id" in record)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one audit event."""
        action = as_str(pick(record, "action")) or "unknown"
        fields: Fields = {
            "@timestamp": first_time(
                record, ("@timestamp",), ("created_at",), ("at_sign_timestamp",)
            ),
            "event.id": as_str(pick(record, "_document_id")),
            "event.action": action,
            "event.category": ["configuration"],
            "event.type": ["change"],
            "event.outcome": "success",
            "user.name": as_str(pick(record, "actor")),
            "user.target.name": as_str(pick(record, "user")),
            "source.ip": as_ip(pick(record, "actor_ip")),
            "source.geo.country_iso_code": as_str(pick(record, "actor_location", "country_code")),
            "user_agent.original": as_str(pick(record, "user_agent")),
            "organization.name": as_str(pick(record, "org")) or as_str(pick(record, "business")),
            "github.repo": as_str(pick(record, "repo")) or as_str(pick(record, "repository")),
            "group.name": as_str(pick(record, "team")),
        }
        _classify(fields, action, record)
        return fields


def _classify(fields: Fields, action: str, record: Record) -> None:
    verb = action.rsplit(".", 1)[-1]
    if verb in ("create", "add_member", "invite_member", "invite_user", "add_user"):
        fields["event.type"] = ["creation"]
    elif verb in ("destroy", "delete", "remove_member", "remove_user"):
        fields["event.type"] = ["deletion"]
    if action.startswith("git."):
        fields["event.category"] = ["file"]
        fields["event.type"] = ["access"] if verb in ("clone", "fetch") else ["change"]
    elif action in _ADMIN_ACTIONS or (action.startswith(_IAM_PREFIXES) and "member" in action):
        _classify_membership(fields, action, record)
    elif action.startswith("workflows."):
        fields["event.category"] = ["process"]
        fields["event.type"] = ["start"]
    tags = []
    if action.endswith(_SECURITY_DISABLES) or ".disable" in action:
        tags.append("security-control-disabled")
    if "two_factor" in action:
        fields["socwb.auth.is_mfa_event"] = True
        tags.append("mfa")
    fields["tags"] = tags


def _classify_membership(fields: Fields, action: str, record: Record) -> None:
    fields["event.category"] = ["iam"]
    types = ["user", *fields["event.type"]]
    permission = as_str(pick(record, "permission")) or as_str(pick(record, "role"))
    is_owner_grant = action == "org.update_member" and (permission or "").lower() in (
        "admin",
        "owner",
    )
    if action in _ADMIN_ACTIONS or is_owner_grant:
        types.append("admin")
        fields["socwb.iam.is_escalation"] = True
        fields["socwb.iam.permission"] = permission or action
    fields["event.type"] = types


def _webhook_kind(record: Record) -> str:
    for key in ("workflow_job", "workflow_run", "review", "comment", "pull_request", "issue"):
        if key in record:
            return key
    if "pages" in record:
        return "gollum"
    if "ref" in record and ("commits" in record or "pusher" in record or "head_commit" in record):
        return "push"
    if "member" in record or "membership" in record:
        return "member"
    if "organization" in record:
        return "organization"
    return "repository"


_WEBHOOK_TIME_PATHS: tuple[tuple[str, ...], ...] = (
    ("workflow_job", "completed_at"),
    ("workflow_job", "started_at"),
    ("workflow_run", "updated_at"),
    ("review", "submitted_at"),
    ("comment", "updated_at"),
    ("comment", "created_at"),
    ("pull_request", "updated_at"),
    ("pull_request", "created_at"),
    ("issue", "updated_at"),
    ("issue", "created_at"),
    ("head_commit", "timestamp"),
)


class GitHubWebhookNormalizer(JsonLinesNormalizer):
    """GitHub webhook payloads, one per line.

    A payload does not name its event type (GitHub sends it in the `X-GitHub-Event`
    header), so the type is inferred from the top-level objects present.
    """

    name: ClassVar[str] = "github_webhook"
    source: ClassVar[Source] = "cicd"
    module: ClassVar[str] = "github"
    vendor: ClassVar[str | None] = "GitHub"
    product: ClassVar[str | None] = "GitHub Webhooks"
    timestamp_fields: ClassVar[str] = "updated_at, created_at or completed_at"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a webhook payload (a `repository` object)."""
        return isinstance(pick(record, "repository"), dict) and "actor" not in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one webhook payload."""
        kind = _webhook_kind(record)
        action = as_str(pick(record, "action"))
        sender = as_str(pick(record, "sender", "login")) or _author(record, kind)
        fields: Fields = {
            "@timestamp": first_time(record, *_WEBHOOK_TIME_PATHS),
            "event.action": f"{kind}.{action}" if action else kind,
            "event.category": ["configuration"],
            "event.type": ["info"],
            "event.outcome": "unknown",
            "user.name": sender,
            "github.repo": as_str(pick(record, "repository", "full_name"))
            or as_str(pick(record, "repository", "name")),
            "organization.name": as_str(pick(record, "organization", "login")),
            "message": as_str(pick(record, kind, "title")),
        }
        if kind in ("workflow_job", "workflow_run"):
            _add_workflow(fields, pick(record, kind))
        elif kind == "push":
            fields["event.category"] = ["file"]
            fields["event.type"] = ["change"]
        elif kind == "member":
            fields["event.category"] = ["iam"]
            fields["event.type"] = ["user", "creation" if action == "added" else "change"]
        return fields


def _author(record: Record, kind: str) -> str | None:
    return as_str(pick(record, kind, "user", "login")) or as_str(
        pick(record, kind, "actor", "login")
    )


def _add_workflow(fields: Fields, job: Any) -> None:
    conclusion = as_str(pick(job, "conclusion"))
    fields["event.category"] = ["process"]
    fields["event.type"] = ["start"] if conclusion is None else ["end"]
    if conclusion is not None:
        fields["event.outcome"] = "success" if conclusion == "success" else "failure"
    fields["process.name"] = as_str(pick(job, "workflow_name")) or as_str(pick(job, "name"))
    fields["user.name"] = fields.get("user.name") or as_str(pick(job, "actor", "login"))
    runner = as_str(pick(job, "runner_name"))
    fields["host.name"] = runner
    labels = pick(job, "labels")
    if isinstance(labels, list):
        fields["github.self_hosted_runner"] = "self-hosted" in labels
