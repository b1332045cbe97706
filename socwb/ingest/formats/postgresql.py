"""PostgreSQL server log on stderr, with `log_line_prefix = '%t:%r:%u@%d:[%p]:'`.

Statement lines (`log_min_duration_statement`, `log_statement`) and pgaudit lines
(`AUDIT: SESSION,...`) are classified so detectors can find schema changes,
privileged statements and bulk exports (`COPY ... TO`).
"""

from __future__ import annotations

import csv
import logging
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip, timezone_named
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: (?P<zone>[A-Za-z+\-0-9]+))?:"
    r"(?P<remote>[^:]*(?:\(\d+\))?):(?P<user>[^@:]*)@(?P<db>[^:]*):\[(?P<pid>\d+)\]:"
    r"(?P<level>[A-Z0-9]+):\s+(?P<msg>.*)$"
)
_DURATION = re.compile(r"^duration: (?P<ms>[\d.]+) ms\s+(?:statement|execute [^:]*): (?P<sql>.*)$")
_STATEMENT = re.compile(r"^statement: (?P<sql>.*)$")
_HBA_REJECT = re.compile(
    r'no pg_hba\.conf entry for host "(?P<host>[^"]+)", user "(?P<user>[^"]+)"'
)
_AUTH_FAILED = re.compile(r'password authentication failed for user "(?P<user>[^"]+)"')
_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|TRUNCATE|COMMENT|RENAME)\b", re.IGNORECASE)
_PRIVILEGED = re.compile(
    r"^\s*(GRANT|REVOKE|ALTER\s+(USER|ROLE)|CREATE\s+(USER|ROLE)|DROP\s+(USER|ROLE)|"
    r"ALTER\s+SYSTEM|SET\s+ROLE|SET\s+SESSION\s+AUTHORIZATION)\b",
    re.IGNORECASE,
)
_EXPORT = re.compile(r"^\s*COPY\b.*\bTO\b", re.IGNORECASE | re.DOTALL)

# Fixed offsets of zone abbreviations seen in PostgreSQL logs. Abbreviations are
# ambiguous in general, so unknown ones fall back to the context's default zone.
_ZONE_OFFSETS = {
    "UTC": 0,
    "GMT": 0,
    "WET": 0,
    "WEST": 1,
    "CET": 1,
    "CEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "IST": 5.5,
    "JST": 9,
    "KST": 9,
    "AEST": 10,
    "AEDT": 11,
    "NZST": 12,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}


def _zone(abbreviation: str | None, ctx: ParseContext) -> tzinfo:
    if abbreviation is None:
        return timezone_named(ctx.default_timezone)
    if abbreviation.upper() in _ZONE_OFFSETS:
        return timezone(timedelta(hours=_ZONE_OFFSETS[abbreviation.upper()]))
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", abbreviation)
    if match:
        sign = -1 if match[1] == "-" else 1
        return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3] or 0)))
    return timezone_named(ctx.default_timezone)


class PostgreSqlStderrNormalizer(LineNormalizer):
    """PostgreSQL stderr log lines with the `%t:%r:%u@%d:[%p]:` prefix."""

    name: ClassVar[str] = "postgresql_stderr"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "postgresql"
    vendor: ClassVar[str | None] = "PostgreSQL"
    product: ClassVar[str | None] = "PostgreSQL"

    def sniff(self, head: str) -> bool:
        """Return whether the first line has the expected prefix."""
        return bool(_LINE.match(head.split("\n", 1)[0]))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one log line.

        NOTE: a multi-line statement continues on lines without the prefix. Those
        lines are rejected one by one instead of being joined to their statement.
        """
        match = _LINE.match(text)
        if match is None:
            raise RecordError("not a PostgreSQL log line: expected the prefix '%t:%r:%u@%d:[%p]:'")
        moment = datetime.fromisoformat(match["ts"]).replace(tzinfo=_zone(match["zone"], ctx))
        remote = match["remote"]
        message = match["msg"]
        fields: Fields = {
            "@timestamp": moment,
            "event.action": "log",
            "event.category": ["database"],
            "event.type": ["info"],
            "log.level": match["level"].lower(),
            "message": message,
            "process.pid": int(match["pid"]),
            "user.name": match["user"] or None,
            "postgresql.database": match["db"] or None,
            "source.ip": as_ip(remote.split("(", 1)[0]) if remote else None,
            "source.port": int(remote.split("(", 1)[1].rstrip(")")) if "(" in remote else None,
        }
        _classify(fields, message)
        return fields


def _classify(fields: Fields, message: str) -> None:
    hba = _HBA_REJECT.search(message)
    denied = hba or _AUTH_FAILED.search(message)
    if denied is not None:
        fields["event.category"] = ["authentication", "database"]
        fields["event.type"] = ["start", "denied"]
        fields["event.action"] = "connection-rejected" if hba else "login-failed"
        fields["event.outcome"] = "failure"
        fields["user.name"] = denied["user"]
        return
    if message.startswith("connection authorized"):
        fields["event.category"] = ["authentication", "database"]
        fields["event.type"] = ["start"]
        fields["event.action"] = "login-succeeded"
        fields["event.outcome"] = "success"
        return
    if message.startswith("AUDIT: "):
        _classify_audit(fields, message[len("AUDIT: ") :])
        return
    statement = _DURATION.match(message) or _STATEMENT.match(message)
    if statement:
        groups = statement.groupdict()
        if groups.get("ms"):
            fields["event.duration"] = int(float(groups["ms"]) * 1_000_000)
        _classify_statement(fields, groups["sql"])


def _classify_statement(fields: Fields, sql: str) -> None:
    fields["event.action"] = "statement"
    fields["postgresql.statement"] = sql
    if _PRIVILEGED.match(sql):
        fields["event.category"] = ["database", "iam"]
        fields["event.type"] = ["admin", "change"]
        fields["event.action"] = "privileged-statement"
    elif _DDL.match(sql):
        fields["event.category"] = ["database", "configuration"]
        fields["event.type"] = ["change"]
        fields["event.action"] = "schema-change"
    elif _EXPORT.match(sql):
        fields["event.type"] = ["access"]
        fields["event.action"] = "data-export"
    else:
        fields["event.type"] = ["access"]


def _classify_audit(fields: Fields, payload: str) -> None:
    """Classify a pgaudit line.

    The pgaudit fields are AUDIT_TYPE, STATEMENT_ID, SUBSTATEMENT_ID, CLASS, COMMAND,
    OBJECT_TYPE, OBJECT_NAME, STATEMENT and PARAMETER, as CSV.
    """
    row = next(csv.reader([payload]), [])
    audit_class = row[3] if len(row) > 3 else ""
    statement = row[7] if len(row) > 7 else ""
    fields["postgresql.audit.object_name"] = row[6] if len(row) > 6 else None
    fields["postgresql.audit.class"] = audit_class
    fields["postgresql.audit.command"] = row[4] if len(row) > 4 else None
    _classify_statement(fields, statement)
    if audit_class == "ROLE":
        fields["event.category"] = ["database", "iam"]
        fields["event.type"] = ["admin", "change"]
        fields["event.action"] = "privileged-statement"
    elif audit_class == "DDL":
        fields["event.category"] = ["database", "configuration"]
        fields["event.type"] = ["change"]
        fields["event.action"] = "schema-change"
