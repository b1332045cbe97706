"""Google Workspace Admin SDK Reports API activity items (one event per item)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

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

_LOGIN_ACTIONS = {
    "login_success": "success",
    "login_failure": "failure",
    "login_challenge": "unknown",
    "login_verification": "unknown",
    "suspicious_login": "unknown",
    "logout": "success",
}
_MFA_NAMES = frozenset({"2sv_enroll", "2sv_disable", "titanium_enroll", "titanium_unenroll"})


def _parameters(record: Record) -> dict[str, Any]:
    """Return activity parameters as a dict, whether exported as a dict or API list."""
    params = pick(record, "parameters")
    if isinstance(params, dict):
        return params
    flattened: dict[str, Any] = {}
    for item in as_list(params):
        name = as_str(pick(item, "name"))
        if name is None:
            continue
        for key in ("value", "multiValue", "intValue", "boolValue"):
            if isinstance(item, dict) and key in item:
                flattened[name] = item[key]
                break
    return flattened


class GoogleWorkspaceNormalizer(JsonLinesNormalizer):
    """Google Workspace activity items, one per line."""

    name: ClassVar[str] = "google_workspace"
    source: ClassVar[Source] = "idp"
    module: ClassVar[str] = "google_workspace"
    vendor: ClassVar[str | None] = "Google"
    product: ClassVar[str | None] = "Google Workspace"
    timestamp_fields: ClassVar[str] = "id.time"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an activity item (`id.applicationName`)."""
        return pick(record, "id", "applicationName") is not None and "name" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one activity item."""
        application = as_str(pick(record, "id", "applicationName")) or "unknown"
        name = as_str(pick(record, "name")) or "unknown"
        params = _parameters(record)
        fields: Fields = {
            "@timestamp": first_time(record, ("id", "time")),
            "event.id": as_str(pick(record, "id", "uniqueQualifier")),
            "event.action": name,
            "event.provider": application,
            "event.category": ["configuration"],
            "event.type": ["change"],
            "event.outcome": "success",
            "user.name": as_str(pick(record, "actor", "email")),
            "source.ip": as_ip(pick(record, "ipAddress")),
            "user.target.name": as_str(params.get("USER_EMAIL"))
            or as_str(params.get("target_user")),
            "group.name": as_str(params.get("GROUP_EMAIL")),
            "file.name": as_str(params.get("doc_title")),
        }
        if application == "login" or name in _LOGIN_ACTIONS:
            _add_login(fields, name, params)
        elif application == "admin":
            _add_admin(fields, name, params)
        elif application == "drive":
            fields["event.category"] = ["file"]
            fields["event.type"] = ["access"] if name in ("view", "download") else ["change"]
            if params.get("visibility") in ("people_with_link", "public_on_the_web") or (
                params.get("visibility_change") == "external"
            ):
                fields["tags"] = ["shared-externally"]
        elif application == "gmail":
            fields["event.category"] = ["email"]
            fields["event.type"] = ["info"]
        if name in _MFA_NAMES:
            fields["socwb.auth.is_mfa_event"] = True
            fields["tags"] = ["mfa"]
        return fields


def _add_login(fields: Fields, name: str, params: dict[str, Any]) -> None:
    fields["event.category"] = ["authentication"]
    fields["event.type"] = ["end"] if name == "logout" else ["start"]
    fields["event.outcome"] = _LOGIN_ACTIONS.get(name, "unknown")
    fields["user.target.name"] = None
    methods = as_list(params.get("login_challenge_method"))
    if methods:
        fields["socwb.auth.mfa_factor"] = as_str(methods[0])
    if name == "suspicious_login" or params.get("is_suspicious") is True:
        fields["event.kind"] = "alert"


def _add_admin(fields: Fields, name: str, params: dict[str, Any]) -> None:
    role = as_str(params.get("ROLE_NAME"))
    if name in ("ASSIGN_ROLE", "GRANT_ADMIN_PRIVILEGE", "CREATE_USER", "ADD_GROUP_MEMBER"):
        fields["event.category"] = ["iam"]
        types = ["user", "creation"] if name == "CREATE_USER" else ["user", "change"]
        if name == "GRANT_ADMIN_PRIVILEGE" or (name == "ASSIGN_ROLE" and is_admin_role(role)):
            types.append("admin")
            fields["socwb.iam.is_escalation"] = True
        fields["event.type"] = types
        fields["socwb.iam.permission"] = role or ("Super Admin" if "ADMIN" in name else None)
    elif name.endswith(("_ROLE", "_PRIVILEGE")):
        fields["event.category"] = ["iam"]
        fields["event.type"] = ["deletion"] if name.startswith("DELETE") else ["change"]
        fields["socwb.iam.permission"] = role
    elif name.startswith("CUSTOMER_TAKEOUT"):
        fields["event.category"] = ["file"]
        fields["event.type"] = ["access"]
