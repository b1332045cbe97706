"""Keycloak user events and admin events as JSON, one per line.

Both shapes are those of the Admin REST API (`GET /admin/realms/{realm}/events` and
`/admin-events`), which event listener SPIs also serialize. User events carry
`type`, `realmId` and `time` (Unix milliseconds). Admin events carry
`operationType`, `resourceType`, `resourcePath` and `authDetails`.

Admin events name the acting administrator only by user id, so they set `user.id`
and leave `user.name` empty.
"""

from __future__ import annotations

import json
import logging
import re
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
    kebab,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_LOGIN_TYPES = frozenset({"LOGIN", "CLIENT_LOGIN", "IDENTITY_PROVIDER_LOGIN"})
_SESSION_END_TYPES = frozenset({"LOGOUT", "LOGOUT_ERROR"})
_TOTP_TYPES = frozenset({"UPDATE_TOTP", "REMOVE_TOTP"})
_CREDENTIAL_TYPES = frozenset({"UPDATE_CREDENTIAL", "REMOVE_CREDENTIAL"})
_MFA_CREDENTIALS = frozenset({"otp", "webauthn", "webauthn-passwordless", "recovery-authn-codes"})
"""Values of `details.credential_type` that are second factors rather than passwords."""
_ACCOUNT_CHANGE_TYPES = frozenset(
    {"REGISTER", "UPDATE_PASSWORD", "RESET_PASSWORD", "UPDATE_PROFILE", "UPDATE_EMAIL"}
)
KEYCLOAK_ADMIN_ROLES = frozenset(
    {
        "admin",
        "realm-admin",
        "create-realm",
        "manage-realm",
        "manage-users",
        "manage-clients",
        "manage-authorization",
        "manage-identity-providers",
        "impersonation",
    }
)
"""Built-in Keycloak roles that grant administration of a realm or of all realms."""

_USER_PATH = re.compile(r"^users/(?P<user>[^/]+)")
_OPERATION_TYPES = {"CREATE": "creation", "UPDATE": "change", "DELETE": "deletion"}


class KeycloakNormalizer(JsonLinesNormalizer):
    """Keycloak user events (LOGIN, LOGIN_ERROR, ...) and admin events."""

    name: ClassVar[str] = "keycloak"
    source: ClassVar[Source] = "idp"
    module: ClassVar[str] = "keycloak"
    vendor: ClassVar[str | None] = "Keycloak"
    product: ClassVar[str | None] = "Keycloak"
    timestamp_fields: ClassVar[str] = "time"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a Keycloak user or admin event."""
        if "operationType" in record and "resourceType" in record:
            return True
        return "type" in record and "realmId" in record and "time" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one user or admin event."""
        if "operationType" in record:
            return _admin_event(record)
        return _user_event(record)


def _user_event(record: Record) -> Fields:
    event_type = as_str(pick(record, "type")) or "UNKNOWN"
    error = as_str(pick(record, "error"))
    failed = event_type.endswith("_ERROR") or error is not None
    fields: Fields = {
        "@timestamp": first_time(record, ("time",)),
        "event.id": as_str(pick(record, "id")),
        "event.action": kebab(event_type),
        "event.category": ["iam"],
        "event.type": ["info"],
        "event.outcome": "failure" if failed else "success",
        "event.reason": error,
        "user.id": as_str(pick(record, "userId")),
        "user.name": as_str(pick(record, "details", "username")),
        "source.ip": as_ip(pick(record, "ipAddress")),
        "keycloak.realm": as_str(pick(record, "realmId")),
        "keycloak.client_id": as_str(pick(record, "clientId")),
        "keycloak.session_id": as_str(pick(record, "sessionId")),
        "keycloak.auth_method": as_str(pick(record, "details", "auth_method")),
    }
    credential = (as_str(pick(record, "details", "credential_type")) or "").lower()
    base_type = event_type.removesuffix("_ERROR")
    is_mfa = base_type in _TOTP_TYPES or (
        base_type in _CREDENTIAL_TYPES and credential in _MFA_CREDENTIALS
    )
    _classify_user_event(fields, base_type, failed, is_mfa=is_mfa)
    return fields


def _classify_user_event(fields: Fields, base_type: str, failed: bool, *, is_mfa: bool) -> None:
    if base_type in _LOGIN_TYPES:
        fields["event.category"] = ["authentication"]
        fields["event.type"] = ["start", "denied"] if failed else ["start"]
        fields["event.action"] = "login-failed" if failed else "login-succeeded"
    elif base_type in _SESSION_END_TYPES:
        fields["event.category"] = ["session"]
        fields["event.type"] = ["end"]
    elif is_mfa:
        fields["event.category"] = ["authentication", "iam"]
        fields["event.type"] = ["change"]
        fields["socwb.auth.is_mfa_event"] = True
        fields["tags"] = ["mfa"]
    elif base_type in _ACCOUNT_CHANGE_TYPES:
        fields["event.type"] = ["user", "creation" if base_type == "REGISTER" else "change"]
    elif base_type in _CREDENTIAL_TYPES:
        fields["event.type"] = ["user", "change"]


def _admin_event(record: Record) -> Fields:
    operation = as_str(pick(record, "operationType")) or "UNKNOWN"
    resource_type = as_str(pick(record, "resourceType")) or "UNKNOWN"
    path = as_str(pick(record, "resourcePath")) or ""
    target = _USER_PATH.match(path)
    fields: Fields = {
        "@timestamp": first_time(record, ("time",)),
        "event.id": as_str(pick(record, "id")),
        "event.action": f"admin-{kebab(resource_type)}-{kebab(operation)}",
        "event.category": ["iam"],
        "event.type": [_OPERATION_TYPES.get(operation, "change")],
        "event.outcome": "failure" if as_str(pick(record, "error")) else "success",
        "event.reason": as_str(pick(record, "error")),
        "user.id": as_str(pick(record, "authDetails", "userId")),
        "user.target.id": target["user"] if target else None,
        "source.ip": as_ip(pick(record, "authDetails", "ipAddress")),
        "keycloak.realm": as_str(pick(record, "realmId")),
        "keycloak.admin_realm": as_str(pick(record, "authDetails", "realmId")),
        "keycloak.client_id": as_str(pick(record, "authDetails", "clientId")),
        "keycloak.resource_type": resource_type,
        "keycloak.resource_path": path or None,
    }
    representation = _representation(pick(record, "representation"))
    if resource_type in ("REALM_ROLE_MAPPING", "CLIENT_ROLE_MAPPING"):
        _classify_role_mapping(fields, operation, representation)
    elif resource_type == "GROUP_MEMBERSHIP":
        _classify_group_membership(fields, operation, representation)
    elif resource_type == "USER":
        fields["event.type"].insert(0, "user")
    return fields


def _representation(value: Any) -> Any:
    """Return the `representation` value, parsed when Keycloak stored it as a JSON string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return None


def _classify_role_mapping(fields: Fields, operation: str, representation: Any) -> None:
    roles = [as_str(pick(role, "name")) for role in as_list(representation)]
    names = [role for role in roles if role]
    fields["event.type"] = ["user", "change"]
    fields["event.action"] = "role-granted" if operation == "CREATE" else "role-revoked"
    fields["socwb.iam.permission"] = ", ".join(names) or None
    is_grant = operation == "CREATE" and fields["event.outcome"] == "success"
    if is_grant and any(_is_keycloak_admin_role(name) for name in names):
        fields["event.type"].append("admin")
        fields["socwb.iam.is_escalation"] = True


def _classify_group_membership(fields: Fields, operation: str, representation: Any) -> None:
    group = as_str(pick(representation, "name"))
    fields["event.type"] = ["group", "change"]
    fields["event.action"] = (
        "group-member-added" if operation == "CREATE" else "group-member-removed"
    )
    fields["group.name"] = group
    fields["socwb.iam.permission"] = group
    is_grant = operation == "CREATE" and fields["event.outcome"] == "success"
    if is_grant and is_admin_role(group):
        fields["event.type"].append("admin")
        fields["socwb.iam.is_escalation"] = True


def _is_keycloak_admin_role(name: str) -> bool:
    return name in KEYCLOAK_ADMIN_ROLES or is_admin_role(name)
