"""Deterministic document ids, so that ingesting a file twice indexes no duplicates."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from socwb.ingest.model import Event

logger = logging.getLogger(__name__)


def _nested(event: Event, dotted: str) -> Any:
    value: Any = event
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def document_id(event: Event) -> str:
    """Return a stable id for `event`.

    The id is derived from the vendor's own event id (`event.id`, for example the
    CloudTrail eventID or the Okta uuid) combined with `event.dataset`,
    `@timestamp` and `event.action`. The last two keep apart distinct events that
    reuse a placeholder id, as hand-written test fixtures often do. Events
    without a vendor id get a SHA-256 hash of the dataset and the raw record
    (`event.hash` when `event.original` was truncated, else `event.original`).
    The same event always gets the same id.

    Args:
        event: A normalized event.

    Returns:
        A 64-character hexadecimal string.
    """
    dataset = str(_nested(event, "event.dataset") or "")
    vendor_id = _nested(event, "event.id")
    if isinstance(vendor_id, str) and vendor_id:
        timestamp = event.get("@timestamp", "")
        action = _nested(event, "event.action") or ""
        material = f"id\x00{dataset}\x00{vendor_id}\x00{timestamp}\x00{action}"
    else:
        content = _nested(event, "event.hash") or _nested(event, "event.original") or ""
        material = f"content\x00{dataset}\x00{content}"
    return hashlib.sha256(material.encode("utf-8", errors="replace")).hexdigest()
