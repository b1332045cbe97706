"""Microsoft SQL Server ERRORLOG lines (`2024-03-20 10:15:05.12 Logon   Login failed ...`).

The ERRORLOG time has a year but no zone, so it is read in
`ParseContext.default_timezone`. SQL Server writes ERRORLOG as UTF-16 LE; NUL bytes
left by reading such a file as UTF-8 are removed before parsing, which recovers
ASCII text. `event.original` keeps the NUL bytes, and non-ASCII text is lost.

NOTE: SQL Server does not write role membership or permission changes
(`ALTER SERVER ROLE`, `GRANT`) to ERRORLOG by default, because SQL Server Audit sends
them to its own targets. So only `Configuration option ... changed` lines are
classified as configuration changes.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip, timezone_named
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LINE = re.compile(
    r"^\ufeff?(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\s+"
    r"(?P<source>Server|Logon|Backup|spid\d+s?|[A-Za-z]+)\s+(?P<msg>.*)$"
)
_LOGIN = re.compile(
    r"^Login (?P<result>failed|succeeded) for user '(?P<user>[^']*)'\.(?P<rest>.*?)"
    r"(?:\[CLIENT: (?P<client>[^\]]+)\])?\s*$"
)
_REASON = re.compile(r"Reason: (?P<reason>.*?)\.?\s*(?:\[CLIENT|$)")
_ERROR = re.compile(r"^Error: (?P<code>\d+), Severity: (?P<severity>\d+), State: (?P<state>\d+)")
_CONFIG_OPTION = re.compile(
    r"^Configuration option '(?P<option>[^']+)' changed from (?P<old>\S+) to (?P<new>\S+)\."
)
_DANGEROUS_OPTIONS = frozenset(
    {"xp_cmdshell", "clr enabled", "ole automation procedures", "ad hoc distributed queries"}
)
"""Options that let SQL users run operating system commands or external code."""


class SqlServerErrorLogNormalizer(LineNormalizer):
    """SQL Server ERRORLOG lines: logins, errors and configuration changes."""

    name: ClassVar[str] = "mssql_errorlog"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "mssql"
    vendor: ClassVar[str | None] = "Microsoft"
    product: ClassVar[str | None] = "SQL Server"
    timestamp_fields: ClassVar[str] = "ERRORLOG time"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is an ERRORLOG line from a known source."""
        line = head.replace("\x00", "").split("\n", 1)[0]
        match = _LINE.match(line.lstrip("\ufeff\ufffd"))
        return (
            match is not None
            and re.fullmatch(r"Server|Logon|spid\d+s?", match["source"]) is not None
        )

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one ERRORLOG line."""
        clean = text.replace("\x00", "").lstrip("\ufeff\ufffd")
        if "\x00" in text and not clean.strip():
            raise RecordError(
                "invalid ERRORLOG line: it contains only NUL bytes, the rest of a UTF-16 "
                "line break; convert the ERRORLOG to UTF-8 to avoid this record"
            )
        match = _LINE.match(clean)
        if match is None:
            raise RecordError(
                "not a SQL Server ERRORLOG line: expected 'YYYY-MM-DD hh:mm:ss.ff source message'"
            )
        moment = datetime.fromisoformat(match["ts"])
        message = match["msg"].strip()
        fields: Fields = {
            "@timestamp": moment.replace(tzinfo=timezone_named(ctx.default_timezone)),
            "event.action": "log",
            "event.category": ["database"],
            "event.type": ["info"],
            "message": message,
            "mssql.log_source": match["source"],
        }
        _classify(fields, message)
        return fields


def _classify(fields: Fields, message: str) -> None:
    login = _LOGIN.match(message)
    if login is not None:
        _classify_login(fields, login)
        return
    error = _ERROR.match(message)
    if error is not None:
        fields["event.action"] = "error"
        fields["event.code"] = error["code"]
        fields["error.code"] = error["code"]
        fields["mssql.error.severity"] = int(error["severity"])
        fields["mssql.error.state"] = int(error["state"])
        return
    option = _CONFIG_OPTION.match(message)
    if option is not None:
        fields["event.action"] = "configuration-option-changed"
        fields["event.category"] = ["database", "configuration"]
        fields["event.type"] = ["change"]
        fields["event.outcome"] = "success"
        fields["mssql.configuration.option"] = option["option"]
        fields["mssql.configuration.old_value"] = option["old"]
        fields["mssql.configuration.new_value"] = option["new"]
        is_enabled = option["new"] != "0" and option["old"] == "0"
        if option["option"].lower() in _DANGEROUS_OPTIONS and is_enabled:
            fields["tags"] = ["security-control-disabled"]


def _classify_login(fields: Fields, login: re.Match[str]) -> None:
    failed = login["result"] == "failed"
    client = (login["client"] or "").strip()
    reason = _REASON.search(login["rest"] or "")
    fields["event.action"] = "login-failed" if failed else "login-succeeded"
    fields["event.category"] = ["authentication", "database"]
    fields["event.type"] = ["start", "denied"] if failed else ["start"]
    fields["event.outcome"] = "failure" if failed else "success"
    fields["event.reason"] = reason["reason"] if reason else None
    fields["user.name"] = login["user"] or None
    fields["source.ip"] = as_ip(client)
    fields["source.address"] = client or None
