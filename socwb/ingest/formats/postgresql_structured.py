"""PostgreSQL structured server logs: `log_destination = 'csvlog'` and `'jsonlog'` (15+).

The message text is classified like the stderr log (`postgresql.py`): failed logins,
pg_hba rejections, statements and pgaudit `AUDIT:` lines. On top of that, privileged
statements that grant SUPERUSER or an administrator-like role mark escalation.

NOTE: a csvlog record whose quoted message spans several lines is rejected line by
line, because normalizers read one line per record.
"""

from __future__ import annotations

import csv
import logging
import re
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer, LineNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_int,
    as_ip,
    as_str,
    is_admin_role,
    pick,
)

# The stderr normalizer owns the message classification and the zone abbreviations;
# reusing them keeps the three PostgreSQL formats in agreement.
from socwb.ingest.formats.postgresql import _classify, _zone
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LOG_TIME = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(?: (?P<zone>[A-Za-z+\-0-9:]+))?"
)
_CSV_START = re.compile(r'^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: [A-Za-z+\-0-9:]+)?,"?')
_CSV_MIN_COLUMNS = 14
_SUPERUSER = re.compile(r"\bSUPERUSER\b", re.IGNORECASE)
_GRANT_ROLE = re.compile(
    r"^\s*GRANT\s+(?P<role>[\w\"]+)\s+TO\s+(?P<grantee>[\w\"]+)", re.IGNORECASE
)
_ALTER_ROLE = re.compile(r"^\s*(?:ALTER|CREATE)\s+(?:USER|ROLE)\s+(?P<name>[\w\"]+)", re.IGNORECASE)


def _log_time(value: str | None, ctx: ParseContext) -> datetime | None:
    match = _LOG_TIME.fullmatch((value or "").strip())
    if match is None:
        return None
    return datetime.fromisoformat(match["ts"]).replace(tzinfo=_zone(match["zone"], ctx))


def _classify_message(fields: Fields, message: str) -> None:
    """Classify the message and mark escalation for SUPERUSER and admin-role grants."""
    _classify(fields, message)
    if fields.get("event.action") != "privileged-statement":
        return
    statement = str(fields.get("postgresql.statement") or "")
    granted = _GRANT_ROLE.match(statement)
    altered = _ALTER_ROLE.match(statement)
    if _SUPERUSER.search(statement) and altered:
        fields["user.target.name"] = altered["name"].strip('"')
        fields["socwb.iam.permission"] = "SUPERUSER"
        fields["socwb.iam.is_escalation"] = True
    elif granted:
        role = granted["role"].strip('"')
        fields["user.target.name"] = granted["grantee"].strip('"')
        fields["socwb.iam.permission"] = role
        fields["socwb.iam.is_escalation"] = is_admin_role(role) or None


def _split_remote(remote: str | None) -> tuple[str | None, int | None]:
    """Split `host:port` from csvlog `connection_from`; `[local]` is a Unix socket."""
    if not remote or remote.startswith("[local]"):
        return None, None
    host, _, port = remote.rpartition(":")
    if host and port.isdigit():
        return as_ip(host), int(port)
    return as_ip(remote), None


def _base_fields(message: str, severity: str | None) -> Fields:
    return {
        "event.action": "log",
        "event.category": ["database"],
        "event.type": ["info"],
        "message": message or None,
        "log.level": (severity or "").lower() or None,
    }


class PostgreSqlCsvNormalizer(LineNormalizer):
    """PostgreSQL csvlog rows (columns as documented for PostgreSQL 13 to 17)."""

    name: ClassVar[str] = "postgresql_csvlog"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "postgresql"
    vendor: ClassVar[str | None] = "PostgreSQL"
    product: ClassVar[str | None] = "PostgreSQL"
    timestamp_fields: ClassVar[str] = "log_time"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is a csvlog row."""
        line = head.split("\n", 1)[0]
        return _CSV_START.match(line) is not None and line.count(",") >= _CSV_MIN_COLUMNS

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one csvlog row."""
        try:
            row = next(csv.reader([text]))
        except csv.Error as exc:
            raise RecordError(f"invalid PostgreSQL csvlog row: {exc}") from exc
        if len(row) < _CSV_MIN_COLUMNS:
            raise RecordError(
                f"PostgreSQL csvlog row has {len(row)} columns, expected at least "
                f"{_CSV_MIN_COLUMNS} (log_time through message)"
            )
        source_ip, source_port = _split_remote(row[4])
        message = row[13]
        fields = _base_fields(message, row[11])
        fields.update(
            {
                "@timestamp": _log_time(row[0], ctx),
                "user.name": row[1] or None,
                "postgresql.database": row[2] or None,
                "process.pid": as_int(row[3]),
                "source.ip": source_ip,
                "source.port": source_port,
                "event.code": row[12] or None,
                "postgresql.session_id": row[5] or None,
                "postgresql.command_tag": row[7] or None,
                "error.message": (row[14] if len(row) > 14 else "") or None,
                "postgresql.query": (row[19] if len(row) > 19 else "") or None,
                "postgresql.application_name": (row[22] if len(row) > 22 else "") or None,
            }
        )
        _classify_message(fields, message)
        return fields


class PostgreSqlJsonNormalizer(JsonLinesNormalizer):
    """PostgreSQL jsonlog records (PostgreSQL 15 and later)."""

    name: ClassVar[str] = "postgresql_jsonlog"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "postgresql"
    vendor: ClassVar[str | None] = "PostgreSQL"
    product: ClassVar[str | None] = "PostgreSQL"
    timestamp_fields: ClassVar[str] = "timestamp"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the jsonlog severity, message and backend keys."""
        return (
            "error_severity" in record
            and "message" in record
            and ("backend_type" in record or "session_id" in record)
        )

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one jsonlog record."""
        message = as_str(pick(record, "message")) or ""
        remote_host = as_str(pick(record, "remote_host"))
        if remote_host is not None and remote_host.startswith("[local]"):
            remote_host = None
        fields = _base_fields(message, as_str(pick(record, "error_severity")))
        fields.update(
            {
                "@timestamp": _log_time(as_str(pick(record, "timestamp")), ctx),
                "user.name": as_str(pick(record, "user")),
                "postgresql.database": as_str(pick(record, "dbname")),
                "process.pid": as_int(pick(record, "pid")),
                "postgresql.application_name": as_str(pick(record, "application_name")),
                "source.ip": as_ip(remote_host),
                "source.domain": remote_host if as_ip(remote_host) is None else None,
                "source.port": as_int(pick(record, "remote_port")),
                "event.code": as_str(pick(record, "state_code")),
                "postgresql.session_id": as_str(pick(record, "session_id")),
                "postgresql.command_tag": as_str(pick(record, "ps")),
                "postgresql.backend_type": as_str(pick(record, "backend_type")),
                "error.message": as_str(pick(record, "detail")),
                "postgresql.query": as_str(pick(record, "statement")),
            }
        )
        _classify_message(fields, message)
        return fields
