"""Snowflake ACCOUNT_USAGE view rows (LOGIN_HISTORY, QUERY_HISTORY, GRANTS_TO_*,
DATA_TRANSFER_HISTORY) exported as JSON objects."""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_bool,
    as_int,
    as_ip,
    as_str,
    first_time,
    is_admin_role,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_EXPORT_QUERY_TYPES = frozenset({"GET_FILES", "UNLOAD"})
_GRANT = re.compile(r"GRANT\s+ROLE\s+(?P<role>\S+)\s+TO\s+USER\s+(?P<user>[^\s;]+)", re.IGNORECASE)


class SnowflakeNormalizer(JsonLinesNormalizer):
    """Snowflake ACCOUNT_USAGE rows, one per line (column names in upper case)."""

    name: ClassVar[str] = "snowflake"
    source: ClassVar[Source] = "database"
    module: ClassVar[str] = "snowflake"
    vendor: ClassVar[str | None] = "Snowflake"
    product: ClassVar[str | None] = "Snowflake"
    timestamp_fields: ClassVar[str] = "EVENT_TIMESTAMP, START_TIME or CREATED_ON"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is one of the supported ACCOUNT_USAGE rows."""
        keys = set(record)
        return bool(
            keys & {"QUERY_TEXT", "FIRST_AUTHENTICATION_FACTOR", "GRANTEE_NAME", "TRANSFER_TYPE"}
        ) and any(key.isupper() for key in keys)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one row."""
        fields: Fields = {
            "@timestamp": first_time(
                record, ("EVENT_TIMESTAMP",), ("START_TIME",), ("END_TIME",), ("CREATED_ON",)
            ),
            "event.id": as_str(pick(record, "EVENT_ID")) or as_str(pick(record, "QUERY_ID")),
            "user.name": as_str(pick(record, "USER_NAME")),
            "source.ip": as_ip(pick(record, "CLIENT_IP")),
            "event.category": ["database"],
            "event.type": ["info"],
        }
        if "IS_SUCCESS" in record or "FIRST_AUTHENTICATION_FACTOR" in record:
            _login(fields, record)
        elif "QUERY_TEXT" in record:
            _query(fields, record)
        elif "GRANTEE_NAME" in record:
            _grant(fields, record)
        else:
            _transfer(fields, record)
        return fields


def _login(fields: Fields, record: Record) -> None:
    success = as_bool(pick(record, "IS_SUCCESS"))
    fields.update(
        {
            "event.action": "login-succeeded" if success else "login-failed",
            "event.category": ["authentication", "database"],
            "event.type": ["start"],
            "event.outcome": "success" if success else "failure",
            "error.code": as_str(pick(record, "ERROR_CODE")),
            "error.message": as_str(pick(record, "ERROR_MESSAGE")),
            "socwb.auth.first_factor": as_str(pick(record, "FIRST_AUTHENTICATION_FACTOR")),
            "socwb.auth.mfa_used": pick(record, "SECOND_AUTHENTICATION_FACTOR") is not None,
        }
    )


def _query(fields: Fields, record: Record) -> None:
    query_type = as_str(pick(record, "QUERY_TYPE")) or "UNKNOWN"
    text = as_str(pick(record, "QUERY_TEXT")) or ""
    status = as_str(pick(record, "EXECUTION_STATUS"))
    fields.update(
        {
            "event.action": query_type.lower().replace("_", "-"),
            "event.type": ["access"],
            "event.outcome": "success"
            if status == "SUCCESS"
            else "failure"
            if status
            else "unknown",
            "snowflake.query.text": text,
            "snowflake.role": as_str(pick(record, "ROLE_NAME")),
            "socwb.data.rows": as_int(pick(record, "ROWS_PRODUCED"))
            or as_int(pick(record, "ROWS_UNLOADED")),
            "socwb.data.bytes": as_int(pick(record, "BYTES_WRITTEN_TO_RESULT")),
        }
    )
    if query_type in _EXPORT_QUERY_TYPES:
        fields["event.action"] = "data-export"
        fields["snowflake.query.type"] = query_type
    elif query_type.startswith(("CREATE", "ALTER", "DROP")):
        fields["event.category"] = ["database", "configuration"]
        fields["event.type"] = ["creation" if query_type.startswith("CREATE") else "change"]
        if query_type in ("CREATE_USER", "CREATE_ROLE"):
            fields["event.category"] = ["iam", "database"]
            fields["event.type"] = ["user" if query_type == "CREATE_USER" else "group", "creation"]
    grant = _GRANT.search(text)
    if grant:
        fields["event.category"] = ["iam", "database"]
        fields["event.type"] = ["user", "change"]
        fields["user.target.name"] = grant["user"]
        fields["socwb.iam.permission"] = grant["role"]
        if is_admin_role(grant["role"]):
            fields["event.type"].append("admin")
            fields["socwb.iam.is_escalation"] = True


def _grant(fields: Fields, record: Record) -> None:
    role = as_str(pick(record, "NAME"))
    fields.update(
        {
            "event.action": "grant",
            "event.category": ["iam", "database"],
            "event.type": ["change"],
            "event.outcome": "success",
            "user.name": as_str(pick(record, "GRANTED_BY")),
            "user.target.name": as_str(pick(record, "GRANTEE_NAME")),
            "socwb.iam.permission": f"{as_str(pick(record, 'PRIVILEGE'))} {role}",
        }
    )
    if pick(record, "DELETED_ON"):
        fields["event.type"] = ["deletion"]
    elif is_admin_role(role):
        fields["event.type"] = ["change", "admin"]
        fields["socwb.iam.is_escalation"] = True


def _transfer(fields: Fields, record: Record) -> None:
    fields.update(
        {
            "event.action": "data-transfer",
            "event.category": ["network", "database"],
            "event.type": ["info"],
            "event.outcome": "success",
            "socwb.data.bytes": as_int(pick(record, "BYTES_TRANSFERRED")),
            "cloud.region": as_str(pick(record, "SOURCE_REGION")),
            "cloud.target.region": as_str(pick(record, "TARGET_REGION")),
            "snowflake.transfer_type": as_str(pick(record, "TRANSFER_TYPE")),
        }
    )
