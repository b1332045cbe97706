"""Databricks audit log delivery records (account and workspace level)."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_int,
    as_ip,
    as_str,
    first_time,
    is_admin_role,
    pick,
    status_outcome,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_ADMIN_ACTIONS = frozenset({"setAccountAdmin", "setAdmin", "changeAccountOwner"})
_DOWNLOAD_ACTIONS = frozenset(
    {"downloadPreviewResults", "downloadLargeResults", "downloadQueryResult", "getShare"}
)


class DatabricksNormalizer(JsonLinesNormalizer):
    """Databricks audit log records, one per line."""

    name: ClassVar[str] = "databricks"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "databricks"
    vendor: ClassVar[str | None] = "Databricks"
    product: ClassVar[str | None] = "Databricks"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has Databricks service and action names."""
        return "serviceName" in record and "actionName" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one audit record."""
        action = as_str(pick(record, "actionName")) or "unknown"
        params = pick(record, "requestParams")
        status = pick(record, "response", "statusCode")
        fields: Fields = {
            "@timestamp": first_time(record, ("timestamp",)),
            "event.id": as_str(pick(record, "requestId")),
            "event.action": action,
            "event.provider": as_str(pick(record, "serviceName")),
            "event.outcome": status_outcome(status),
            "event.category": ["configuration"],
            "event.type": ["change"],
            "user.name": as_str(pick(record, "userIdentity", "email")),
            "source.ip": as_ip(pick(record, "sourceIPAddress")),
            "user_agent.original": as_str(pick(record, "userAgent")),
            "http.response.status_code": as_int(status),
            "error.message": as_str(pick(record, "response", "errorMessage")),
            "cloud.account.id": as_str(pick(record, "accountId")),
            "user.target.name": as_str(pick(params, "targetUserName"))
            or as_str(pick(params, "userName")),
            "group.name": as_str(pick(params, "targetGroupName")),
        }
        _classify(fields, action, record)
        return fields


def _classify(fields: Fields, action: str, record: Record) -> None:
    lowered = action.lower()
    if action in ("login", "IpAccessDenied", "tokenLogin", "samlLogin", "oidcLogin"):
        fields["event.category"] = ["authentication"]
        fields["event.type"] = ["start"] if action != "IpAccessDenied" else ["denied"]
        if action == "IpAccessDenied":
            fields["event.outcome"] = "failure"
    elif lowered.startswith("mfa"):
        fields["event.category"] = ["authentication", "iam"]
        fields["socwb.auth.is_mfa_event"] = True
        fields["tags"] = ["mfa"]
    elif "group" in lowered or action in _ADMIN_ACTIONS or "user" in lowered:
        _classify_iam(fields, action)
    elif action in _DOWNLOAD_ACTIONS or "credential" in lowered:
        fields["event.category"] = ["database"]
        fields["event.type"] = ["access"]
        fields["service.name"] = as_str(pick(record, "userIdentity", "email"))
    elif "token" in lowered or "password" in lowered:
        fields["event.category"] = ["iam"]
        fields["event.type"] = ["user", "change"]
    elif lowered.startswith(("create", "add")):
        fields["event.type"] = ["creation"]
    elif lowered.startswith(("delete", "remove")) or action == "delete":
        fields["event.type"] = ["deletion"]


def _classify_iam(fields: Fields, action: str) -> None:
    fields["event.category"] = ["iam"]
    types = ["group"] if "group" in action.lower() else ["user"]
    if action.startswith(("create", "add", "set")):
        types.append("creation" if action.startswith("create") else "change")
    elif action.startswith(("remove", "delete")):
        types.append("deletion")
    else:
        types.append("change")
    granted_admin = action in _ADMIN_ACTIONS or (
        action.startswith("add") and is_admin_role(fields.get("group.name"))
    )
    if granted_admin:
        types.append("admin")
        fields["socwb.iam.is_escalation"] = True
        fields["socwb.iam.permission"] = fields.get("group.name") or action
    fields["event.type"] = types
