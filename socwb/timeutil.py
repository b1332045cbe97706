"""Formatting of UTC instants for queries and stored documents."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_iso(moment: datetime) -> str:
    """Format an aware time as ISO 8601 in UTC with a ``Z`` suffix."""
    if moment.tzinfo is None:
        raise ValueError(f"time {moment!r} has no time zone; pass an aware UTC time")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc_iso(text: str) -> datetime:
    """Parse an ISO 8601 time with a ``Z`` or numeric offset into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
