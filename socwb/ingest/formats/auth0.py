"""Auth0 tenant log events (Log Streams and Management API `data` envelope)."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_ip, as_str, first_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

# Auth0 log event type codes, from the Auth0 "Log Event Type Codes" reference.
_LOGIN_SUCCESS = frozenset({"s", "ssa", "sepft", "seacft", "scoa"})
_LOGIN_FAILURE = frozenset({"f", "fp", "fu", "fc", "fco", "fepft", "feacft", "fcoa", "fsa"})
_MFA_ACTIONS = {
    "gd_send_pn": "mfa-push-sent",
    "gd_auth_rejected": "mfa-push-denied",
    "gd_auth_failed": "mfa-challenge-failed",
    "gd_auth_succeed": "mfa-challenge-succeeded",
    "gd_enrollment_complete": "mfa-enrollment-complete",
    "gd_unenroll": "mfa-unenrolled",
}
_RATE_LIMITS = frozenset({"limit_wc", "limit_mu", "limit_sul", "api_limit"})


class Auth0Normalizer(JsonLinesNormalizer):
    """Auth0 tenant logs: `{"log_id": ..., "data": {...}}` per line."""

    name: ClassVar[str] = "auth0"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "auth0"
    vendor: ClassVar[str | None] = "Okta"
    product: ClassVar[str | None] = "Auth0"
    timestamp_fields: ClassVar[str] = "data.date"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an Auth0 `data` envelope."""
        data = pick(record, "data")
        return isinstance(data, dict) and "date" in data and ("type" in data or "client_id" in data)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one tenant log event."""
        data = pick(record, "data")
        code = as_str(pick(data, "type")) or "unknown"
        request = pick(data, "details", "request")
        user = as_str(pick(data, "user_name")) or as_str(pick(request, "auth", "user", "email"))
        fields: Fields = {
            "@timestamp": first_time(data, ("date",)),
            "event.id": as_str(pick(record, "log_id")) or as_str(pick(data, "log_id")),
            "event.code": code,
            "event.action": code,
            "event.reason": as_str(pick(data, "description")),
            "event.category": ["iam"],
            "event.type": ["info"],
            "event.outcome": "unknown",
            "user.name": user,
            "user.id": as_str(pick(data, "user_id"))
            or as_str(pick(request, "auth", "user", "user_id")),
            "source.ip": as_ip(pick(data, "ip")) or as_ip(pick(request, "ip")),
            "user_agent.original": as_str(pick(data, "user_agent"))
            or as_str(pick(request, "userAgent")),
            "url.path": as_str(pick(request, "path")),
            "http.request.method": as_str(pick(request, "method")),
            "service.name": as_str(pick(data, "client_name")),
        }
        _classify(fields, code)
        return fields


def _classify(fields: Fields, code: str) -> None:
    if code in _LOGIN_SUCCESS or code in _LOGIN_FAILURE:
        fields["event.category"] = ["authentication"]
        fields["event.type"] = ["start"]
        fields["event.outcome"] = "success" if code in _LOGIN_SUCCESS else "failure"
        fields["event.action"] = "login-succeeded" if code in _LOGIN_SUCCESS else "login-failed"
    elif code in _MFA_ACTIONS:
        fields["event.category"] = ["authentication"]
        fields["event.action"] = _MFA_ACTIONS[code]
        fields["event.outcome"] = (
            "failure" if code in ("gd_auth_rejected", "gd_auth_failed") else "success"
        )
        fields["socwb.auth.is_mfa_event"] = True
        fields["tags"] = ["mfa"]
    elif code in _RATE_LIMITS:
        fields["event.category"] = ["authentication", "intrusion_detection"]
        fields["event.type"] = ["denied"]
        fields["event.action"] = "rate-limited"
        fields["event.outcome"] = "failure"
    elif code in ("signup_pwd_leak", "pwd_leak"):
        fields["event.category"] = ["authentication", "threat"]
        fields["event.type"] = ["indicator"]
        fields["event.action"] = "breached-password-detected"
        fields["event.outcome"] = "failure"
    elif code in ("sapi", "fapi"):
        _classify_management(fields, code)


def _classify_management(fields: Fields, code: str) -> None:
    path = fields.get("url.path") or ""
    method = (fields.get("http.request.method") or "").lower()
    fields["event.category"] = ["configuration"]
    fields["event.type"] = {"post": ["creation"], "delete": ["deletion"]}.get(method, ["change"])
    fields["event.outcome"] = "success" if code == "sapi" else "failure"
    fields["event.action"] = "management-api-call" if code == "sapi" else "management-api-failed"
    if "guardian" in path or "mfa" in path:
        fields["socwb.auth.is_mfa_event"] = True
        fields["tags"] = ["mfa"]
    if "roles" in path or "members" in path or "invitations" in path:
        fields["event.category"] = ["iam"]
