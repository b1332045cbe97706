"""MySQL audit logs in JSON: Percona Audit Log Plugin and MySQL Enterprise Audit.

Percona (`audit_log_format = JSON`) writes `{"audit_record": {"name": "Query", ...}}`
with `command_class` and `sqltext`. MySQL Enterprise Audit (JSON format) writes
`{"class": "general", "event": "status", "general_data": {...}}`. Both are mapped
to the same actions: `login-failed`, `login-succeeded`, `privileged-statement`
(GRANT, REVOKE, CREATE/ALTER/DROP/RENAME USER, SET PASSWORD), `schema-change`
(DROP, TRUNCATE) and `data-export` (`SELECT ... INTO OUTFILE`).

Percona times carry `UTC`; MySQL Enterprise writes UTC without a marker, so both
are read as UTC and `ParseContext.default_timezone` is not used.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import Fields, Record, as_int, as_ip, as_str, parse_time, pick
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_PRIVILEGE_COMMANDS: dict[str, str] = {
    "grant": "change",
    "grant_roles": "change",
    "revoke": "change",
    "revoke_all": "change",
    "revoke_roles": "change",
    "create_user": "creation",
    "alter_user": "change",
    "rename_user": "change",
    "set_password": "change",
    "drop_user": "deletion",
}
_DROP_COMMANDS = frozenset({"drop_table", "drop_db", "drop_view", "truncate", "drop_index"})
_ACCOUNT = re.compile(r"^(?P<user>[^\[\s@]+)\[(?P<priv>[^\]]*)\]")
_GRANTEE = re.compile(r"\bTO\s+'(?P<user>[^']+)'", re.IGNORECASE)
_USER_STATEMENT = re.compile(r"^\s*(?:CREATE|ALTER|DROP|RENAME)\s+USER\s+'(?P<user>[^']+)'", re.I)
_GRANT_PRIVILEGES = re.compile(r"^\s*GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<object>\S+)", re.I)
_ADMIN_PRIVILEGES = re.compile(r"\b(ALL(?:\s+PRIVILEGES)?|SUPER|GRANT\s+OPTION)\b", re.I)
_OUTFILE = re.compile(r"\bINTO\s+(?:OUTFILE|DUMPFILE)\b", re.I)


def _percona_user(value: Any) -> str | None:
    """Return the user of a Percona `user` value such as `root[root] @ localhost []`."""
    text = as_str(value)
    if text is None:
        return None
    account = _ACCOUNT.match(text)
    return account["user"] if account else text.split(" ", 1)[0]


class MySqlAuditNormalizer(JsonLinesNormalizer):
    """MySQL audit records from the Percona plugin or MySQL Enterprise Audit, one per line."""

    name: ClassVar[str] = "mysql_audit"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "mysql"
    vendor: ClassVar[str | None] = "Oracle"
    product: ClassVar[str | None] = "MySQL"
    timestamp_fields: ClassVar[str] = "timestamp"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a Percona or MySQL Enterprise audit record."""
        if isinstance(pick(record, "audit_record"), dict):
            return True
        return "connection_id" in record and pick(record, "class") in ("connection", "general")

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one audit record."""
        percona = pick(record, "audit_record")
        if isinstance(percona, dict):
            fields = _percona_fields(percona)
        else:
            fields = _enterprise_fields(record)
        _classify(fields)
        return fields


def _percona_fields(record: Record) -> Fields:
    name = (as_str(pick(record, "name")) or "").lower()
    kind = "connection" if name in ("connect", "quit", "change user") else "query"
    return {
        "@timestamp": parse_time(pick(record, "timestamp"), UTC),
        "event.id": as_str(pick(record, "record")),
        "user.name": as_str(pick(record, "priv_user")) or _percona_user(pick(record, "user")),
        "source.ip": as_ip(pick(record, "ip")),
        "source.domain": as_str(pick(record, "host")),
        "mysql.audit.kind": kind,
        "mysql.audit.event": name or None,
        "mysql.audit.command": as_str(pick(record, "command_class")),
        "mysql.audit.status": as_int(pick(record, "status")),
        "mysql.audit.connection_id": as_str(pick(record, "connection_id")),
        "mysql.audit.database": as_str(pick(record, "db")),
        "mysql.audit.query": as_str(pick(record, "sqltext")),
    }


def _enterprise_fields(record: Record) -> Fields:
    audit_class = as_str(pick(record, "class")) or ""
    data_key = "connection_data" if audit_class == "connection" else "general_data"
    data = pick(record, data_key)
    user = as_str(pick(record, "login", "user")) or as_str(pick(record, "account", "user"))
    return {
        "@timestamp": parse_time(pick(record, "timestamp"), UTC),
        "event.id": as_str(pick(record, "id")),
        "user.name": user,
        "source.ip": as_ip(pick(record, "login", "ip")),
        "mysql.audit.account_host": as_str(pick(record, "account", "host")),
        "mysql.audit.kind": "connection" if audit_class == "connection" else "query",
        "mysql.audit.event": as_str(pick(record, "event")),
        "mysql.audit.command": as_str(pick(data, "sql_command")),
        "mysql.audit.status": as_int(pick(data, "status")),
        "mysql.audit.connection_id": as_str(pick(record, "connection_id")),
        "mysql.audit.database": as_str(pick(data, "db")),
        "mysql.audit.query": as_str(pick(data, "query")),
    }


def _classify(fields: Fields) -> None:
    status = fields.get("mysql.audit.status")
    if status is None:
        fields["event.outcome"] = "unknown"
    else:
        fields["event.outcome"] = "success" if status == 0 else "failure"
    fields["event.category"] = ["database"]
    fields["event.type"] = ["info"]
    event = (fields.get("mysql.audit.event") or "").lower()
    if fields["mysql.audit.kind"] == "connection":
        _classify_connection(fields, event)
        return
    command = (fields.get("mysql.audit.command") or "").lower()
    query = fields.get("mysql.audit.query") or ""
    fields["event.action"] = "statement"
    fields["event.type"] = ["access"]
    if command in _PRIVILEGE_COMMANDS:
        _classify_privilege(fields, command, query)
    elif command in _DROP_COMMANDS:
        fields["event.action"] = "schema-change"
        fields["event.category"] = ["database", "configuration"]
        fields["event.type"] = ["deletion"]
    elif _OUTFILE.search(query):
        fields["event.action"] = "data-export"


def _classify_connection(fields: Fields, event: str) -> None:
    if event in ("quit", "disconnect"):
        # A session end is no login, so it stays out of the authentication category.
        fields["event.category"] = ["session", "database"]
        fields["event.action"] = "disconnect"
        fields["event.type"] = ["end"]
        return
    fields["event.category"] = ["authentication", "database"]
    failed = fields["event.outcome"] == "failure"
    fields["event.action"] = "login-failed" if failed else "login-succeeded"
    fields["event.type"] = ["start", "denied"] if failed else ["start"]


def _classify_privilege(fields: Fields, command: str, query: str) -> None:
    fields["event.action"] = "privileged-statement"
    fields["event.category"] = ["database", "iam"]
    fields["event.type"] = ["admin", _PRIVILEGE_COMMANDS[command]]
    target = _USER_STATEMENT.match(query) or _GRANTEE.search(query)
    fields["user.target.name"] = target["user"] if target else None
    grant = _GRANT_PRIVILEGES.match(query) if command.startswith("grant") else None
    if grant is None:
        return
    privileges = grant["privileges"].strip()
    fields["socwb.iam.permission"] = f"{privileges} ON {grant['object']}"
    is_global = grant["object"] == "*.*"
    has_admin_privilege = _ADMIN_PRIVILEGES.search(privileges) is not None
    with_grant_option = re.search(r"\bWITH\s+GRANT\s+OPTION\b", query, re.I) is not None
    is_success = fields["event.outcome"] != "failure"
    if is_success and is_global and (has_admin_privilege or with_grant_option):
        fields["socwb.iam.is_escalation"] = True
