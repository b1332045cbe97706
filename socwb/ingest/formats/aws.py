"""AWS CloudTrail records and AWS WAF (v2) web ACL logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonEnvelopeNormalizer, JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_int,
    as_ip,
    as_str,
    first_time,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

ADMIN_POLICY_NAMES = frozenset({"AdministratorAccess", "IAMFullAccess", "PowerUserAccess"})
"""AWS managed policies treated as administrator grants."""

_OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
_CIDR_KEYS = frozenset({"cidrip", "cidripv6", "cidrblock", "ipv6cidrblock", "cidr"})
_NETWORK_RULE_EVENTS = frozenset(
    {
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "CreateSecurityGroup",
        "DeleteSecurityGroup",
        "ModifySecurityGroupRules",
        "CreateNetworkAclEntry",
        "ReplaceNetworkAclEntry",
        "DeleteNetworkAclEntry",
        "CreateNetworkAcl",
        "DeleteNetworkAcl",
        "AuthorizeDBSecurityGroupIngress",
        "RevokeDBSecurityGroupIngress",
    }
)
_AUTH_EVENTS = frozenset({"ConsoleLogin", "ExternalIdPDirectoryLogin", "Authenticate"})
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "BatchGet", "Search")


def _walk_values(value: Any, keys: frozenset[str]) -> Iterator[Any]:
    """Yield values of any key in `keys` (lower case) found anywhere in `value`."""
    if isinstance(value, dict):
        for key, child in value.items():
            if str(key).lower() in keys:
                yield child
            yield from _walk_values(child, keys)
    elif isinstance(value, list):
        for child in value:
            yield from _walk_values(child, keys)


def policy_grants_everything(document: Any) -> bool:
    """Return whether an IAM policy document allows `*` or `iam:*` actions.

    Args:
        document: The policy as a dict or as the JSON string CloudTrail records.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except (json.JSONDecodeError, RecursionError):
            return False
    statements = pick(document, "Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if pick(statement, "Effect") != "Allow":
            continue
        actions = pick(statement, "Action")
        for action in actions if isinstance(actions, list) else [actions]:
            if action in ("*", "iam:*"):
                return True
    return False


def _user_name(identity: Any) -> str | None:
    name = as_str(pick(identity, "userName"))
    if name is None:
        name = as_str(pick(identity, "sessionContext", "sessionIssuer", "userName"))
    if name is None and pick(identity, "type") == "Root":
        name = "root"
    arn = as_str(pick(identity, "arn"))
    if name is None and arn:
        name = arn.rsplit("/", 1)[-1]
    return name


def _event_type(event_name: str) -> list[str]:
    if event_name.startswith(("Create", "Add", "Attach", "Authorize", "Run", "Put")):
        return ["creation"] if event_name.startswith(("Create", "Run")) else ["change"]
    if event_name.startswith(("Delete", "Remove", "Detach", "Revoke", "Terminate")):
        return ["deletion"]
    if event_name.startswith(_READ_PREFIXES):
        return ["access"]
    return ["change"]


class CloudTrailNormalizer(JsonEnvelopeNormalizer):
    """AWS CloudTrail: `{"Records": [...]}` log files or one record per line.

    Logstash exports add `@timestamp` and `@version`; `eventTime` wins when both exist.
    """

    name: ClassVar[str] = "aws_cloudtrail"
    source: ClassVar[Source] = "cloud"
    module: ClassVar[str] = "aws"
    vendor: ClassVar[str | None] = "AWS"
    product: ClassVar[str | None] = "CloudTrail"
    timestamp_fields: ClassVar[str] = "eventTime"
    envelope_key: ClassVar[str] = "Records"

    def sniff(self, head: str) -> bool:
        """Return whether `head` is a CloudTrail log file or a CloudTrail NDJSON line."""
        if head.lstrip().startswith("{") and '"Records"' in head[:200]:
            return '"eventName"' in head or '"eventSource"' in head
        return super().sniff(head)

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the CloudTrail identity fields."""
        return "eventName" in record and ("eventSource" in record or "userIdentity" in record)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one CloudTrail record."""
        event_name = as_str(pick(record, "eventName")) or "unknown"
        identity = pick(record, "userIdentity")
        source_address = as_str(pick(record, "sourceIPAddress"))
        fields: Fields = {
            "@timestamp": first_time(record, ("eventTime",), ("@timestamp",)),
            "event.id": as_str(pick(record, "eventID")),
            "event.action": event_name,
            "event.provider": as_str(pick(record, "eventSource")),
            "event.outcome": "success",
            "event.category": ["configuration"],
            "event.type": _event_type(event_name),
            "cloud.provider": "aws",
            "cloud.region": as_str(pick(record, "awsRegion")),
            "cloud.account.id": as_str(pick(record, "recipientAccountId"))
            or as_str(pick(identity, "accountId")),
            "user.name": _user_name(identity),
            "user.id": as_str(pick(identity, "principalId")),
            "source.ip": as_ip(source_address),
            "source.address": source_address,
            "user_agent.original": as_str(pick(record, "userAgent")),
            "error.code": as_str(pick(record, "errorCode")),
            "error.message": as_str(pick(record, "errorMessage")),
            "aws.cloudtrail.user_identity.type": as_str(pick(identity, "type")),
        }
        if pick(identity, "type") == "AWSService" or pick(identity, "invokedBy"):
            fields["service.name"] = as_str(pick(identity, "invokedBy")) or source_address
        if fields["error.code"]:
            fields["event.outcome"] = "failure"
        self._add_details(fields, record, event_name)
        return fields

    def _add_details(self, fields: Fields, record: Record, event_name: str) -> None:
        params = pick(record, "requestParameters")
        if event_name in _AUTH_EVENTS:
            _add_login(fields, record)
        elif event_name in _NETWORK_RULE_EVENTS:
            _add_network_rule(fields, params, event_name)
        elif pick(record, "eventSource") in ("iam.amazonaws.com", "sso.amazonaws.com"):
            if not event_name.startswith(_READ_PREFIXES):
                _add_iam_change(fields, params, event_name)
        elif event_name in ("GetObject", "CopyObject", "SelectObjectContent"):
            _add_data_access(fields, record, params)
        elif event_name in ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"):
            fields["event.type"] = ["deletion" if event_name == "DeleteTrail" else "change"]


def _add_login(fields: Fields, record: Record) -> None:
    result = as_str(pick(record, "responseElements", "ConsoleLogin"))
    fields["event.category"] = ["authentication"]
    fields["event.type"] = ["start"]
    if result == "Failure":
        fields["event.outcome"] = "failure"
    elif result is None and not fields["error.code"]:
        fields["event.outcome"] = "unknown"
    mfa_used = as_str(pick(record, "additionalEventData", "MFAUsed"))
    if mfa_used is not None:
        fields["socwb.auth.mfa_used"] = mfa_used == "Yes"


def _add_network_rule(fields: Fields, params: Any, event_name: str) -> None:
    fields["event.category"] = ["configuration", "network"]
    fields["rule.id"] = as_str(pick(params, "groupId")) or as_str(pick(params, "networkAclId"))
    fields["rule.name"] = as_str(pick(params, "groupName")) or as_str(
        pick(params, "dBSecurityGroupName")
    )
    opens = event_name.startswith(("Authorize", "Create", "Replace", "Modify"))
    if opens and pick(params, "ruleAction") not in (None, "allow"):
        opens = False
    cidrs = {str(value) for value in _walk_values(params, _CIDR_KEYS)}
    if opens and cidrs & _OPEN_CIDRS:
        fields["socwb.network.is_open_to_world"] = True


def _add_iam_change(fields: Fields, params: Any, event_name: str) -> None:
    fields["event.category"] = ["iam"]
    types = _event_type(event_name)
    if "User" in event_name or "LoginProfile" in event_name or "AccessKey" in event_name:
        types.append("user")
    if "Group" in event_name:
        types.append("group")
    fields["user.target.name"] = as_str(pick(params, "userName"))
    fields["group.name"] = as_str(pick(params, "groupName"))
    permission = (
        as_str(pick(params, "policyArn"))
        or as_str(pick(params, "policyName"))
        or as_str(pick(params, "roleName"))
    )
    fields["socwb.iam.permission"] = permission
    policy_arn = as_str(pick(params, "policyArn"))
    is_admin_policy = policy_arn is not None and policy_arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES
    if is_admin_policy or policy_grants_everything(pick(params, "policyDocument")):
        fields["socwb.iam.is_escalation"] = True
        types.append("admin")
    fields["event.type"] = types


def _add_data_access(fields: Fields, record: Record, params: Any) -> None:
    fields["event.category"] = ["file"]
    fields["event.type"] = ["access"]
    bucket = as_str(pick(params, "bucketName"))
    key = as_str(pick(params, "key"))
    fields["file.path"] = f"{bucket}/{key}" if bucket and key else key
    fields["file.name"] = key.rsplit("/", 1)[-1] if key else None
    fields["socwb.data.bytes"] = as_int(pick(record, "additionalEventData", "bytesTransferredOut"))


class AwsWafNormalizer(JsonLinesNormalizer):
    """AWS WAF v2 web ACL log records, one JSON object per line."""

    name: ClassVar[str] = "aws_waf"
    source: ClassVar[Source] = "waf"
    module: ClassVar[str] = "aws"
    vendor: ClassVar[str | None] = "AWS"
    product: ClassVar[str | None] = "WAF"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the WAF web ACL fields."""
        return "webaclId" in record and "httpRequest" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one web ACL log record."""
        action = as_str(pick(record, "action")) or "UNKNOWN"
        request = pick(record, "httpRequest")
        uri = as_str(pick(request, "uri"))
        args = as_str(pick(request, "args"))
        rule_type = as_str(pick(record, "terminatingRuleType"))
        blocked = action in ("BLOCK", "CAPTCHA", "CHALLENGE")
        if rule_type == "RATE_BASED" and blocked:
            ecs_action = "rate-limited"
        else:
            ecs_action = "request-blocked" if blocked else f"request-{action.lower()}ed"
        return {
            "@timestamp": first_time(record, ("timestamp",)),
            "event.id": as_str(pick(record, "httpRequest", "requestId")),
            "event.action": ecs_action if action != "COUNT" else "request-counted",
            "event.outcome": "failure" if blocked else "success",
            "event.category": ["web", "intrusion_detection"] if blocked else ["web"],
            "event.type": ["denied"] if blocked else ["allowed"],
            "rule.id": as_str(pick(record, "terminatingRuleId")),
            "rule.ruleset": as_str(pick(record, "webaclId")),
            "source.ip": as_ip(pick(request, "clientIp")),
            "source.geo.country_iso_code": as_str(pick(request, "country")),
            "url.original": f"{uri}?{args}" if uri and args else uri,
            "url.path": uri,
            "http.request.method": as_str(pick(request, "httpMethod")),
            "observer.type": "waf",
            "aws.waf.terminating_rule_type": rule_type,
            "aws.waf.source": as_str(pick(record, "httpSourceName")),
        }
