"""Azure Monitor activity log and Entra ID (Azure AD) sign-in and audit logs.

Both use the diagnostic-settings export schema (`time`, `operationName`,
`category`, `properties`). Exports differ in key case, so keys match
case-insensitively.
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
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

# Built-in Azure RBAC role definition ids (learn.microsoft.com, "Azure built-in roles").
ADMIN_ROLE_DEFINITIONS = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}
_OPEN_PREFIXES = frozenset({"*", "0.0.0.0/0", "::/0", "internet", "any"})
_SIGN_IN_CATEGORIES = frozenset(
    {
        "signinlogs",
        "noninteractiveusersigninlogs",
        "serviceprincipalsigninlogs",
        "managedidentitysigninlogs",
    }
)
_SUCCESS_RESULTS = frozenset({"success", "succeeded", "accept", "0"})


def _outcome(result: Any) -> str:
    text = (as_str(result) or "").lower()
    if text in _SUCCESS_RESULTS:
        return "success"
    if text in ("failed", "failure"):
        return "failure"
    return "unknown"


def _request_body(properties: Any) -> Any:
    body = pick(properties, "requestbody")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except (json.JSONDecodeError, RecursionError):
            return None
    return body


def _operation_type(operation: str) -> list[str]:
    verb = operation.rsplit("/", 1)[-1].lower()
    return {"write": ["change"], "delete": ["deletion"], "read": ["access"]}.get(verb, ["info"])


class AzureActivityNormalizer(JsonLinesNormalizer):
    """Azure Monitor activity log records (control-plane operations), one per line."""

    name: ClassVar[str] = "azure_activity"
    source: ClassVar[Source] = "cloud"
    module: ClassVar[str] = "azure"
    vendor: ClassVar[str | None] = "Microsoft"
    product: ClassVar[str | None] = "Azure Activity Log"
    timestamp_fields: ClassVar[str] = "time"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an activity log record (not an Entra ID log)."""
        operation = as_str(pick(record, "operationName")) or ""
        category = (as_str(pick(record, "category")) or "").lower()
        if category in _SIGN_IN_CATEGORIES or category in ("auditlogs", "policy"):
            return False
        return "/" in operation and ("resourceId" in record or "category" in record)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one activity log record."""
        operation = as_str(pick(record, "operationName")) or "unknown"
        properties = pick(record, "properties")
        fields: Fields = {
            "@timestamp": first_time(record, ("time",)),
            "event.action": operation,
            "azure.correlation_id": as_str(pick(record, "correlationId")),
            "event.category": ["configuration"],
            "event.type": _operation_type(operation),
            "event.outcome": _outcome(pick(record, "resultType")),
            "event.provider": operation.split("/", 1)[0],
            "cloud.provider": "azure",
            "cloud.region": as_str(pick(record, "location")),
            "cloud.account.id": _subscription(as_str(pick(record, "resourceId"))),
            "user.name": as_str(pick(record, "identity", "claims", "name"))
            or as_str(pick(record, "identity", "claims", "upn"))
            or as_str(pick(properties, "caller")),
            "source.ip": as_ip(pick(record, "callerIpAddress")),
            "azure.resource.id": as_str(pick(record, "resourceId")),
        }
        lowered = operation.lower()
        if "roleassignments/" in lowered:
            _add_role_assignment(fields, properties, lowered)
        elif (
            "securityrules/" in lowered
            or "firewall" in lowered
            or "networksecuritygroup" in lowered
        ):
            _add_network_rule(fields, properties, record)
        elif lowered.endswith(("/listkeys/action", "/begingetaccess/action")):
            fields["event.type"] = ["access"]
            fields["event.category"] = ["configuration", "file"]
        return fields


def _subscription(resource_id: str | None) -> str | None:
    match = re.search(r"/subscriptions/([^/]+)", resource_id or "", re.IGNORECASE)
    return match.group(1) if match else None


def _add_role_assignment(fields: Fields, properties: Any, operation: str) -> None:
    fields["event.category"] = ["iam"]
    body = _request_body(properties)
    definition = as_str(pick(body, "properties", "roleDefinitionId")) or ""
    role_id = definition.rsplit("/", 1)[-1].lower()
    fields["socwb.iam.permission"] = ADMIN_ROLE_DEFINITIONS.get(role_id, definition or None)
    fields["user.target.id"] = as_str(pick(body, "properties", "principalId"))
    if operation.endswith("/write"):
        fields["event.type"] = ["change"]
        if role_id in ADMIN_ROLE_DEFINITIONS:
            fields["event.type"] = ["change", "admin"]
            fields["socwb.iam.is_escalation"] = True
    elif operation.endswith("/delete"):
        fields["event.type"] = ["deletion"]


def _add_network_rule(fields: Fields, properties: Any, record: Record) -> None:
    fields["event.category"] = ["configuration", "network"]
    resource_id = as_str(pick(record, "resourceId")) or ""
    fields["rule.name"] = resource_id.rsplit("/", 1)[-1] or None
    fields["rule.id"] = resource_id or None
    rule = pick(_request_body(properties), "properties")
    prefixes = as_list(pick(rule, "sourceAddressPrefix")) + as_list(
        pick(rule, "sourceAddressPrefixes")
    )
    allows = (as_str(pick(rule, "access")) or "Allow").lower() == "allow"
    inbound = (as_str(pick(rule, "direction")) or "Inbound").lower() == "inbound"
    if allows and inbound and any(str(p).lower() in _OPEN_PREFIXES for p in prefixes):
        fields["socwb.network.is_open_to_world"] = True


class AzureAdNormalizer(JsonLinesNormalizer):
    """Entra ID (Azure AD) sign-in and audit log records, one per line."""

    name: ClassVar[str] = "azure_ad"
    source: ClassVar[Source] = "idp"
    module: ClassVar[str] = "azure"
    vendor: ClassVar[str | None] = "Microsoft"
    product: ClassVar[str | None] = "Entra ID"
    timestamp_fields: ClassVar[str] = "time"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an Entra ID sign-in or audit record."""
        category = (as_str(pick(record, "category")) or "").lower()
        return category in _SIGN_IN_CATEGORIES or (
            category in ("auditlogs", "policy", "core directory", "usermanagement")
            and isinstance(pick(record, "properties"), dict)
        )

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one sign-in or audit record."""
        category = (as_str(pick(record, "category")) or "").lower()
        properties = pick(record, "properties")
        fields: Fields = {
            "@timestamp": first_time(record, ("time",), ("properties", "createdDateTime")),
            "event.id": as_str(pick(properties, "id")),
            "azure.correlation_id": as_str(pick(record, "correlationId")),
            "cloud.provider": "azure",
            "source.ip": as_ip(pick(properties, "ipAddress"))
            or as_ip(pick(record, "callerIpAddress")),
        }
        if category in _SIGN_IN_CATEGORIES:
            _add_sign_in(fields, record, properties)
        else:
            _add_audit(fields, record, properties)
        return fields


def _add_sign_in(fields: Fields, record: Record, properties: Any) -> None:
    error_code = pick(properties, "status", "errorCode")
    failed = error_code not in (None, 0, "0")
    requirement = as_str(pick(properties, "authenticationRequirement"))
    fields.update(
        {
            "event.action": "sign-in-failed" if failed else "sign-in",
            "event.category": ["authentication"],
            "event.type": ["start"],
            "event.outcome": "failure" if failed else "success",
            "event.reason": as_str(pick(properties, "status", "failureReason")),
            "error.code": as_str(error_code) if failed else None,
            "user.name": as_str(pick(properties, "userPrincipalName"))
            or as_str(pick(properties, "servicePrincipalName")),
            "user.id": as_str(pick(properties, "userId"))
            or as_str(pick(properties, "servicePrincipalId")),
            "service.name": as_str(pick(properties, "resourceDisplayName")),
            "source.geo.country_iso_code": as_str(pick(properties, "location", "countryOrRegion")),
            "user_agent.original": as_str(pick(properties, "userAgent")),
            "socwb.auth.risk_level": as_str(pick(properties, "riskLevelDuringSignIn")),
            "socwb.auth.client_app": as_str(pick(properties, "clientAppUsed")),
        }
    )
    if requirement:
        fields["socwb.auth.mfa_used"] = requirement == "multiFactorAuthentication"


def _add_audit(fields: Fields, record: Record, properties: Any) -> None:
    operation = (
        as_str(pick(properties, "activityDisplayName"))
        or as_str(pick(properties, "operationName"))
        or as_str(pick(record, "operationName"))
        or "unknown"
    )
    targets = as_list(pick(properties, "targetResources"))
    target = targets[0] if targets else None
    fields.update(
        {
            "event.action": operation,
            "event.category": ["iam"],
            "event.type": _audit_type(operation),
            "event.outcome": _outcome(pick(properties, "result") or pick(record, "resultType")),
            "user.name": as_str(pick(properties, "initiatedBy", "user", "userPrincipalName"))
            or as_str(pick(properties, "initiatedBy", "app", "displayName"))
            or as_str(pick(record, "identity")),
            "user.target.name": as_str(pick(target, "userPrincipalName"))
            or as_str(pick(target, "displayName")),
            "source.ip": fields.get("source.ip")
            or as_ip(pick(properties, "initiatedBy", "user", "ipAddress")),
        }
    )
    role = _modified_value(target, "Role.DisplayName")
    lowered = operation.lower()
    if "elevated their access" in lowered:
        role = role or "User Access Administrator"
    if role:
        fields["socwb.iam.permission"] = role
    is_grant = ("role" in lowered or "elevated" in lowered) and not lowered.startswith(
        ("delete", "remove")
    )
    if is_grant and is_admin_role(role):
        fields["event.type"] = [*fields["event.type"], "admin"]
        fields["socwb.iam.is_escalation"] = True
    if "policy" in lowered or "authentication method" in lowered or "federation" in lowered:
        fields["event.category"] = ["iam", "configuration"]


def _audit_type(operation: str) -> list[str]:
    lowered = operation.lower()
    types: list[str] = []
    if "user" in lowered:
        types.append("user")
    elif "group" in lowered:
        types.append("group")
    if lowered.startswith(("add", "invite", "create")):
        types.append("creation" if "member" not in lowered else "change")
    elif lowered.startswith(("delete", "remove")):
        types.append("deletion")
    else:
        types.append("change")
    return types


def _modified_value(target: Any, name: str) -> str | None:
    for item in as_list(pick(target, "modifiedProperties")):
        if pick(item, "displayName") == name:
            return (as_str(pick(item, "newValue")) or "").strip('"') or None
    return None
