"""Typed accessors and value converters used by the format modules."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from socwb.ingest.model import RecordError

logger = logging.getLogger(__name__)

Fields: TypeAlias = dict[str, Any]
"""Flat ECS fields keyed by dotted name (`user.name`), nested by `nest_fields`."""

Record: TypeAlias = Mapping[str, Any]

MAX_RECORD_CHARS = 4 * 1024 * 1024
"""Maximum length of a JSON record in characters. Longer records are rejected."""

MAX_DOCUMENT_CHARS = 512 * 1024 * 1024
"""Maximum length of a whole JSON document (CloudTrail file, Trivy report) in characters."""

_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_EPOCH_MILLIS_MIN = 10**11
_EPOCH_MICROS_MIN = 10**14
_EPOCH_NANOS_MIN = 10**17


def pick(record: Any, *path: str) -> Any:
    """Return the value at `path` inside nested mappings, or None.

    Keys match exactly first, then case-insensitively, because some exports
    lower-case every key (`eventType` becomes `eventtype`).
    """
    value = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        if key in value:
            value = value[key]
            continue
        lowered = key.lower()
        value = next((v for k, v in value.items() if str(k).lower() == lowered), None)
    return value


def as_str(value: Any) -> str | None:
    """Return `value` as a non-empty string, or None for empty, null or nested values."""
    if value is None or isinstance(value, (Mapping, list, tuple)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def as_int(value: Any) -> int | None:
    """Return `value` as an int when it is a whole number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}\s*", value):
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    """Return `value` as a finite float, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def as_bool(value: Any) -> bool | None:
    """Return `value` as a bool for JSON booleans and the strings true/false."""
    if isinstance(value, bool):
        return value
    text = as_str(value)
    if text is None:
        return None
    return {"true": True, "false": False}.get(text.lower())


def as_ip(value: Any) -> str | None:
    """Return the IP address in `value`, dropping brackets, ports and zone ids."""
    text = as_str(value)
    if text is None:
        return None
    candidates = [text, text.strip("[]")]
    if text.startswith("[") and "]:" in text:
        candidates.append(text[1 : text.index("]:")])
    if text.count(":") == 1:
        candidates.append(text.split(":", 1)[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate.split("%", 1)[0]))
        except ValueError:
            continue
    return None


def as_list(value: Any) -> list[Any]:
    """Return `value` as a list: lists unchanged, None as empty, others wrapped."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def load_json(text: str, max_chars: int = MAX_RECORD_CHARS) -> Any:
    """Parse JSON text, raising `RecordError` with the position of a syntax error."""
    if len(text) > max_chars:
        raise RecordError(
            f"record is {len(text)} characters long, more than the limit of {max_chars}"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON at column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise RecordError("invalid JSON: nesting is too deep") from exc


def load_json_object(text: str, max_chars: int = MAX_RECORD_CHARS) -> dict[str, Any]:
    """Parse one JSON object, rejecting other JSON values."""
    value = load_json(text, max_chars)
    if not isinstance(value, dict):
        raise RecordError(f"expected a JSON object, found {type(value).__name__}")
    return value


def timezone_named(name: str) -> tzinfo:
    """Return the IANA zone `name`, raising `RecordError` when it is unknown."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RecordError(
            f"unknown time zone {name!r}: set an IANA name such as 'Europe/Berlin'"
        ) from exc


def format_time(moment: datetime) -> str:
    """Format `moment` as ISO 8601 UTC with milliseconds and a `Z` suffix."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_epoch(value: float) -> datetime | None:
    """Return the UTC time of an epoch number in seconds, ms, µs or ns (by magnitude)."""
    magnitude = abs(value)
    if magnitude >= _EPOCH_NANOS_MIN:
        value /= 1e9
    elif magnitude >= _EPOCH_MICROS_MIN:
        value /= 1e6
    elif magnitude >= _EPOCH_MILLIS_MIN:
        value /= 1e3
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=value)
    except OverflowError:
        return None


def parse_time(value: Any, zone: tzinfo = UTC) -> datetime | None:
    """Parse an ISO 8601 string, `YYYY-MM-DD HH:MM:SS[.f]` or an epoch number.

    Args:
        value: The raw timestamp value.
        zone: Zone assumed for strings without a UTC offset.

    Returns:
        An aware datetime, or None when `value` is missing or not a timestamp.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return parse_epoch(float(value)) if value == value else None
    text = as_str(value)
    if text is None:
        return None
    if re.fullmatch(r"\d{9,19}(\.\d+)?", text):
        return parse_epoch(float(text))
    text = _FRACTION.sub(r"\1", text.replace(" UTC", "Z"), count=1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def first_time(record: Record, *paths: tuple[str, ...]) -> datetime | None:
    """Return the first parseable timestamp found at one of `paths` in `record`."""
    for path in paths:
        moment = parse_time(pick(record, *path))
        if moment is not None:
            return moment
    return None


def compact_json(value: Any) -> str:
    """Serialize `value` as compact JSON, the `event.original` of document records."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def outcome_from_bool(value: Any) -> str:
    """Map a success flag to `success`, `failure` or `unknown`."""
    flag = as_bool(value)
    if flag is None:
        return "unknown"
    return "success" if flag else "failure"


def kebab(text: str) -> str:
    """Turn a vendor action name (`CreateUser`, `user.session.start`) into kebab case."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text)
    return re.sub(r"[^a-z0-9]+", "-", spaced.lower()).strip("-")


_ADMIN_ROLE = re.compile(r"admin|owner|super|contributor|root|privileged", re.IGNORECASE)


def is_admin_role(name: str | None) -> bool:
    """Return whether a role or group name grants administrator rights.

    This is a keyword match (admin, owner, super, contributor, root, privileged),
    so it errs towards marking a grant as an escalation.
    """
    return bool(name) and _ADMIN_ROLE.search(name or "") is not None


def status_outcome(status: Any) -> str:
    """Map an HTTP status code to `success` (< 400), `failure` or `unknown`."""
    code = as_int(status)
    if code is None:
        return "unknown"
    return "success" if code < 400 else "failure"


_SEVERITIES = {
    "critical": "Critical",
    "high": "High",
    "medium": "Medium",
    "moderate": "Medium",
    "low": "Low",
    "none": "None",
    "info": "None",
    "informational": "None",
    "log": "None",
    "negligible": "None",
    "unknown": "Unknown",
}


def normalize_severity(value: Any) -> str | None:
    """Return a severity as Critical, High, Medium, Low, None or Unknown."""
    text = as_str(value)
    if text is None:
        return None
    return _SEVERITIES.get(text.lower(), text.capitalize())


def cvss_version(vector: str | None, default: str) -> str:
    """Return the CVSS version named by a vector (`CVSS:3.1/...` gives `3.1`)."""
    match = re.match(r"CVSS:(\d\.\d)/", vector or "")
    return match.group(1) if match else default
