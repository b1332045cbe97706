"""Cloudflare Logpush datasets: firewall events and HTTP requests, one JSON object per line.

Field names follow the Logpush dataset schemas `firewall_events` and `http_requests`.
Logpush writes times as RFC 3339 strings or Unix epochs (seconds or nanoseconds,
set by the job's `timestamps` option); all three are accepted.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_int,
    as_ip,
    as_list,
    as_str,
    first_time,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_BLOCKING_ACTIONS = frozenset({"block", "drop", "connectionclose", "forceconnectionclose"})
_CHALLENGE_ACTIONS = frozenset(
    {"challenge", "jschallenge", "managed_challenge", "managedchallenge", "challengefailed"}
)
_RATE_LIMIT_SOURCES = frozenset({"ratelimit", "ratelimiting"})


def _ecs_action(action: str, security_source: str | None) -> str:
    """Map a Cloudflare security action to a kebab-case `event.action`."""
    lowered = action.lower()
    is_rate_limit = (security_source or "").lower() in _RATE_LIMIT_SOURCES
    if is_rate_limit and (lowered in _BLOCKING_ACTIONS or lowered in _CHALLENGE_ACTIONS):
        return "rate-limited"
    if lowered in _BLOCKING_ACTIONS:
        return "request-blocked"
    if lowered in _CHALLENGE_ACTIONS:
        return "request-challenged"
    if lowered == "log":
        return "rule-matched"
    return "request-allowed"


def _classify(fields: Fields, action: str | None, security_source: str | None) -> None:
    """Set action, category, type and outcome from the security action taken."""
    ecs_action = _ecs_action(action, security_source) if action else "request"
    is_stopped = ecs_action in ("request-blocked", "request-challenged", "rate-limited")
    fields["event.action"] = ecs_action
    is_detection = is_stopped or ecs_action == "rule-matched"
    fields["event.category"] = ["web", "intrusion_detection"] if is_detection else ["web"]
    fields["event.type"] = ["denied"] if is_stopped else ["allowed"]
    if action is None:
        fields["event.type"] = ["access"]
    elif ecs_action == "rule-matched":
        fields["event.type"] = ["info"]
    fields["event.outcome"] = "failure" if is_stopped else "success"


def _url(path: str | None, query: str | None) -> str | None:
    if path and query:
        return path + query if query.startswith("?") else f"{path}?{query}"
    return path


def _request_fields(record: Record) -> Fields:
    """Return the client and request fields both datasets share."""
    return {
        "event.id": as_str(pick(record, "RayID")),
        "source.ip": as_ip(pick(record, "ClientIP")),
        "source.port": as_int(pick(record, "ClientSrcPort")),
        "source.as.number": as_int(pick(record, "ClientASN")),
        "source.geo.country_iso_code": (as_str(pick(record, "ClientCountry")) or "").upper(),
        "url.domain": as_str(pick(record, "ClientRequestHost")),
        "http.request.method": as_str(pick(record, "ClientRequestMethod")),
        "user_agent.original": as_str(pick(record, "ClientRequestUserAgent")),
        "observer.type": "waf",
        "observer.name": as_str(pick(record, "EdgeColoCode")),
        "cloudflare.ray_id": as_str(pick(record, "RayID")),
        "cloudflare.zone": as_str(pick(record, "ZoneName")),
    }


class CloudflareFirewallNormalizer(JsonLinesNormalizer):
    """Cloudflare Logpush `firewall_events`: one record per security rule match."""

    name: ClassVar[str] = "cloudflare_firewall"
    source: ClassVar[Source] = "waf"
    module: ClassVar[str] = "cloudflare"
    vendor: ClassVar[str | None] = "Cloudflare"
    product: ClassVar[str | None] = "Cloudflare WAF"
    timestamp_fields: ClassVar[str] = "Datetime"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the firewall event fields."""
        return "RayID" in record and "Action" in record and "Source" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one firewall event."""
        path = as_str(pick(record, "ClientRequestPath"))
        security_source = as_str(pick(record, "Source"))
        fields: Fields = {
            **_request_fields(record),
            "@timestamp": first_time(record, ("Datetime",)),
            "url.path": path,
            "url.original": _url(path, as_str(pick(record, "ClientRequestQuery"))),
            "http.response.status_code": as_int(pick(record, "EdgeResponseStatus")),
            "rule.id": as_str(pick(record, "RuleID")),
            "rule.description": as_str(pick(record, "Description")),
            "rule.ruleset": as_str(pick(record, "RulesetID")),
            "cloudflare.action": as_str(pick(record, "Action")),
            "cloudflare.source": security_source,
        }
        _classify(fields, as_str(pick(record, "Action")), security_source)
        return fields


class CloudflareHttpNormalizer(JsonLinesNormalizer):
    """Cloudflare Logpush `http_requests`: one record per request served by the edge.

    The security action comes from `SecurityAction` (current schema) or `WAFAction`
    (deprecated schema). A request stopped by a rate limiting rule, either as the
    security source or through `EdgeRateLimitAction`, is `rate-limited`.
    """

    name: ClassVar[str] = "cloudflare_http"
    source: ClassVar[Source] = "waf"
    module: ClassVar[str] = "cloudflare"
    vendor: ClassVar[str | None] = "Cloudflare"
    product: ClassVar[str | None] = "Cloudflare CDN"
    timestamp_fields: ClassVar[str] = "EdgeStartTimestamp"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the HTTP request fields."""
        return "RayID" in record and "EdgeStartTimestamp" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one HTTP request record."""
        action, security_source, rule_id = _security_decision(record)
        status = as_int(pick(record, "EdgeResponseStatus"))
        fields: Fields = {
            **_request_fields(record),
            "@timestamp": first_time(record, ("EdgeStartTimestamp",), ("EdgeEndTimestamp",)),
            "url.path": as_str(pick(record, "ClientRequestPath")),
            "url.original": as_str(pick(record, "ClientRequestURI")),
            "http.response.status_code": status,
            "http.response.bytes": as_int(pick(record, "EdgeResponseBytes")),
            "rule.id": rule_id,
            "cloudflare.action": action,
            "cloudflare.source": security_source,
            "cloudflare.waf_attack_score": as_int(pick(record, "WAFAttackScore")),
            "cloudflare.bot_score": as_int(pick(record, "BotScore")),
        }
        _classify(fields, action, security_source)
        if action is None and status is not None:
            fields["event.outcome"] = "success" if status < 400 else "failure"
        return fields


def _security_decision(record: Record) -> tuple[str | None, str | None, str | None]:
    """Return the security action, its source and the rule id of an HTTP request."""
    rate_limit_action = as_str(pick(record, "EdgeRateLimitAction"))
    if rate_limit_action and rate_limit_action.lower() not in ("unknown", "none"):
        return rate_limit_action, "ratelimit", as_str(pick(record, "EdgeRateLimitID"))
    action = as_str(pick(record, "SecurityAction"))
    if action and action.lower() != "unknown":
        sources = as_list(pick(record, "SecuritySources"))
        return (
            action,
            as_str(sources[0]) if sources else None,
            as_str(pick(record, "SecurityRuleID")),
        )
    action = as_str(pick(record, "WAFAction"))
    if action and action.lower() != "unknown":
        return action, "waf", as_str(pick(record, "WAFRuleID"))
    return None, None, None
