"""1Password Events API: sign-in attempts and item usages."""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_ip, as_str, first_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_FAILURE_CATEGORIES = frozenset(
    {"credentials_failed", "mfa_failed", "modern_version_failed", "firewall_failed"}
)


class OnePasswordNormalizer(JsonLinesNormalizer):
    """1Password sign-in attempt and item usage records, one per line."""

    name: ClassVar[str] = "onepassword"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "1password"
    vendor: ClassVar[str | None] = "1Password"
    product: ClassVar[str | None] = "1Password Business"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a sign-in attempt or an item usage."""
        has_client = isinstance(pick(record, "client"), dict) and "app_name" in record["client"]
        return (
            "uuid" in record and has_client and ("target_user" in record or "item_uuid" in record)
        )

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one record."""
        client = pick(record, "client")
        fields: Fields = {
            "@timestamp": first_time(record, ("timestamp",)),
            "event.id": as_str(pick(record, "uuid")),
            "source.ip": as_ip(pick(client, "ip_address")),
            "source.geo.country_iso_code": as_str(pick(record, "country"))
            or as_str(pick(record, "location", "country")),
            "user_agent.name": as_str(pick(client, "app_name")),
            "host.os.name": as_str(pick(client, "os_name")),
        }
        if "item_uuid" in record:
            fields.update(
                {
                    "event.action": as_str(pick(record, "action")) or "item-usage",
                    "event.category": ["file"],
                    "event.type": ["access"],
                    "event.outcome": "success",
                    "user.name": as_str(pick(record, "user", "email")),
                    "file.inode": as_str(pick(record, "item_uuid")),
                    "file.directory": as_str(pick(record, "vault_uuid")),
                }
            )
            return fields
        category = as_str(pick(record, "category")) or "unknown"
        fields.update(
            {
                "event.action": as_str(pick(record, "type")) or category,
                "event.category": ["authentication"],
                "event.type": ["start"],
                "event.outcome": "failure"
                if category in _FAILURE_CATEGORIES
                else "success"
                if category == "success"
                else "unknown",
                "event.reason": category,
                "user.name": as_str(pick(record, "target_user", "email")),
                "user.full_name": as_str(pick(record, "target_user", "name")),
            }
        )
        if category == "mfa_failed":
            fields["socwb.auth.is_mfa_event"] = True
            fields["tags"] = ["mfa"]
        return fields
