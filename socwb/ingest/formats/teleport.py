"""Teleport audit events (logins, session commands, locks)."""

from __future__ import annotations

import logging
import shlex
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
    outcome_from_bool,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)


class TeleportNormalizer(JsonLinesNormalizer):
    """Teleport audit events, one per line."""

    name: ClassVar[str] = "teleport"
    source: ClassVar[Source] = "app"
    module: ClassVar[str] = "teleport"
    vendor: ClassVar[str | None] = "Gravitational"
    product: ClassVar[str | None] = "Teleport"
    timestamp_fields: ClassVar[str] = "time"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has Teleport's event, code and uid fields."""
        return "event" in record and "code" in record and "uid" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one audit event."""
        event = as_str(pick(record, "event")) or "unknown"
        fields: Fields = {
            "@timestamp": first_time(record, ("time",)),
            "event.id": as_str(pick(record, "uid")),
            "event.code": as_str(pick(record, "code")),
            "event.action": event,
            "event.category": ["configuration"],
            "event.type": ["info"],
            "event.outcome": outcome_from_bool(pick(record, "success")),
            "user.name": as_str(pick(record, "user")),
            "source.ip": as_ip(pick(record, "addr.remote")),
            "user_agent.original": as_str(pick(record, "user_agent")),
            "orchestrator.cluster.name": as_str(pick(record, "cluster_name")),
        }
        if event.startswith("user.login"):
            fields["event.category"] = ["authentication"]
            fields["event.type"] = ["start"]
            mfa_type = as_str(pick(record, "mfa_device", "mfa_device_type"))
            fields["socwb.auth.mfa_used"] = mfa_type is not None
            fields["socwb.auth.mfa_factor"] = mfa_type
        elif event in ("session.command", "exec"):
            _add_command(fields, record)
        elif event.startswith("lock."):
            fields["event.category"] = ["iam"]
            fields["event.type"] = ["user", "creation" if event.endswith("created") else "deletion"]
            fields["user.target.name"] = as_str(pick(record, "target", "user"))
        return fields


def _add_command(fields: Fields, record: Record) -> None:
    program = as_str(pick(record, "program")) or as_str(pick(record, "path"))
    args = [str(arg) for arg in as_list(pick(record, "argv"))]
    fields["event.category"] = ["process"]
    fields["event.type"] = ["start"]
    fields["event.outcome"] = "success" if as_int(pick(record, "return_code")) == 0 else "failure"
    fields["process.name"] = program
    fields["process.executable"] = as_str(pick(record, "path"))
    fields["process.args"] = [program or "", *args]
    fields["process.command_line"] = shlex.join([program or "", *args])
    fields["process.pid"] = as_int(pick(record, "pid"))
    fields["process.parent.pid"] = as_int(pick(record, "ppid"))
    fields["user.effective.name"] = as_str(pick(record, "login"))
    fields["host.id"] = as_str(pick(record, "server_id"))
