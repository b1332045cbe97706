"""Palo Alto Networks PAN-OS logs in the default syslog CSV format.

Supported log types are TRAFFIC, THREAT, CONFIG, SYSTEM and GLOBALPROTECT. Column
positions follow the PAN-OS syslog field descriptions (PAN-OS 9.1 to 11.x). The time
is the Generated Time column (`2024/03/20 10:15:05`): it carries the year but no
zone, so it is read in `ParseContext.default_timezone`. A syslog header before the
CSV row is optional and only supplies the host name.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_int, as_ip, is_admin_role, timezone_named
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_LOG_TYPES = "TRAFFIC|THREAT|CONFIG|SYSTEM|GLOBALPROTECT"
_ROW_START = re.compile(
    r"(?:^|[\s>])(?P<row>[^,\s]*,\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2},[^,]*,"
    r"(?P<type>" + _LOG_TYPES + r"),)"
)
_HEADER_HOST = re.compile(
    r"^(?:<\d{1,3}>)?(?:1 )?(?:[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\S+)"
    r"\s+(?P<host>[^\s:]+)"
)
_THREAT_NAME = re.compile(r"^(?P<name>.*?)\s*\((?P<id>\d+)\)$")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_DENY_ACTIONS = frozenset(
    {"deny", "drop", "drop-icmp", "reset-client", "reset-server", "reset-both", "block-url"}
)
_THREAT_BLOCK_PREFIXES = ("deny", "drop", "reset", "block", "sinkhole")
_MALWARE_SUBTYPES = frozenset({"virus", "wildfire-virus", "wildfire"})
_GP_LOGIN = re.compile(r"Login from: (?P<ip>[^,\s]+).*?User name: (?P<user>[^,]+)", re.DOTALL)
_ADMIN_AUTH_FAILURE = re.compile(r"failed authentication for user '(?P<user>[^']+)'")
_ADMIN_AUTH_SOURCE = re.compile(r"From: (?P<ip>[0-9A-Fa-f.:]+?)\.?$")
_ANY_SOURCE = re.compile(r"\bsource\s+(?:\[\s*)?any\b")
_ALLOW_ACTION = re.compile(r"\baction\s+allow\b")
_ADMIN_ROLE = re.compile(r"role-based\s+(?:\{\s*)?(?P<role>[\w-]+)")


class PanOsNormalizer(LineNormalizer):
    """PAN-OS firewall logs: one CSV row per line, optionally behind a syslog header."""

    name: ClassVar[str] = "panos"
    source: ClassVar[Source] = "network"
    module: ClassVar[str] = "panw"
    vendor: ClassVar[str | None] = "Palo Alto Networks"
    product: ClassVar[str | None] = "PAN-OS"
    timestamp_fields: ClassVar[str] = "Generated Time"

    def sniff(self, head: str) -> bool:
        """Return whether the first line contains a PAN-OS CSV row."""
        return _ROW_START.search(head.split("\n", 1)[0]) is not None

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one PAN-OS log line."""
        start = _ROW_START.search(text)
        if start is None:
            raise RecordError(
                "not a PAN-OS log line: expected a CSV row with receive time, serial and "
                f"type ({_LOG_TYPES.replace('|', ', ')})"
            )
        row = _read_row(text[start.start("row") :])
        header_host = _HEADER_HOST.match(text[: start.start("row")])
        fields: Fields = {
            "@timestamp": _generated_time(row[6], ctx),
            "event.category": ["network"],
            "event.type": ["info"],
            "observer.serial_number": _column(row, 2),
            "observer.type": "firewall",
            "host.name": header_host["host"] if header_host else None,
            "panw.panos.type": row[3],
            "panw.panos.subtype": _column(row, 4),
        }
        converter = _CONVERTERS.get(row[3])
        if converter is None:
            raise RecordError(f"unsupported PAN-OS log type {row[3][:40]!r} in column 4")
        converter(fields, row)
        return fields


def _read_row(text: str) -> list[str]:
    try:
        row = next(csv.reader([text]))
    except csv.Error as exc:
        raise RecordError(f"invalid PAN-OS CSV row: {exc}") from exc
    if len(row) < 8:
        raise RecordError(f"PAN-OS row has {len(row)} columns, fewer than the 8 every log has")
    return row


def _column(row: list[str], index: int) -> str | None:
    """Return column `index` stripped, or None when the row is shorter or the value empty."""
    if index >= len(row):
        return None
    return row[index].strip() or None


def _generated_time(value: str, ctx: ParseContext) -> datetime:
    try:
        local = datetime.strptime(value.strip(), "%Y/%m/%d %H:%M:%S")
    except ValueError as exc:
        raise RecordError(f"invalid PAN-OS generated time {value!r}") from exc
    return local.replace(tzinfo=timezone_named(ctx.default_timezone))


def _add_session(fields: Fields, row: list[str]) -> None:
    """Add the columns TRAFFIC and THREAT logs share (7 to 30)."""
    fields["source.ip"] = as_ip(_column(row, 7))
    fields["destination.ip"] = as_ip(_column(row, 8))
    fields["rule.name"] = _column(row, 11)
    fields["user.name"] = _column(row, 12)
    fields["destination.user.name"] = _column(row, 13)
    fields["network.application"] = _column(row, 14)
    fields["observer.ingress.zone"] = _column(row, 16)
    fields["observer.egress.zone"] = _column(row, 17)
    fields["observer.ingress.interface.name"] = _column(row, 18)
    fields["observer.egress.interface.name"] = _column(row, 19)
    fields["panw.panos.session_id"] = _column(row, 22)
    fields["source.port"] = as_int(_column(row, 24))
    fields["destination.port"] = as_int(_column(row, 25))
    fields["network.transport"] = _column(row, 29)
    fields["panw.panos.action"] = _column(row, 30)


def _convert_traffic(fields: Fields, row: list[str]) -> None:
    _add_session(fields, row)
    action = (_column(row, 30) or "").lower()
    denied = action in _DENY_ACTIONS
    phase = {"start": "start", "end": "end"}.get(_column(row, 4) or "")
    fields["event.action"] = "connection-denied" if denied else "connection-allowed"
    fields["event.type"] = ["connection", "denied" if denied else "allowed"] + (
        [phase] if phase else []
    )
    fields["event.outcome"] = "failure" if denied else "success"
    fields["source.bytes"] = as_int(_column(row, 32))
    fields["destination.bytes"] = as_int(_column(row, 33))
    fields["event.reason"] = _column(row, 46)
    fields["observer.name"] = _column(row, 52)


def _convert_threat(fields: Fields, row: list[str]) -> None:
    _add_session(fields, row)
    subtype = (_column(row, 4) or "").lower()
    action = (_column(row, 30) or "").lower()
    blocked = action.startswith(_THREAT_BLOCK_PREFIXES)
    threat = _THREAT_NAME.match(_column(row, 32) or "")
    is_malware = subtype in _MALWARE_SUBTYPES
    fields["event.kind"] = "alert"
    fields["event.category"] = ["network", "intrusion_detection"] + (
        ["malware"] if is_malware else []
    )
    fields["event.type"] = ["denied"] if blocked else ["info"]
    fields["event.outcome"] = "failure" if blocked else "success"
    fields["event.action"] = "malware-detected" if is_malware else f"threat-{subtype or 'unknown'}"
    fields["rule.name"] = threat["name"] if threat else _column(row, 32)
    fields["rule.id"] = threat["id"] if threat else None
    fields["panw.panos.rule_name"] = _column(row, 11)
    fields["socwb.alert.severity"] = _column(row, 34)
    fields["network.direction"] = _column(row, 35)
    misc = _column(row, 31)
    if subtype == "url":
        fields["url.original"] = misc
    else:
        fields["file.name"] = misc
    digest = _column(row, 43) or ""
    fields["file.hash.sha256"] = digest.lower() if _SHA256.fullmatch(digest) else None
    fields["observer.name"] = _column(row, 59)


def _convert_config(fields: Fields, row: list[str]) -> None:
    command = _column(row, 9) or "unknown"
    path = _column(row, 13) or ""
    after = _column(row, 15) or ""
    fields["event.category"] = ["configuration"]
    fields["event.type"] = ["change"]
    fields["event.action"] = f"config-{command.lower()}"
    fields["event.outcome"] = "success" if _column(row, 12) == "Succeeded" else "failure"
    fields["source.ip"] = as_ip(_column(row, 7))
    fields["user.name"] = _column(row, 10)
    fields["panw.panos.client"] = _column(row, 11)
    fields["panw.panos.config_path"] = path or None
    fields["panw.panos.after_change"] = after or None
    fields["observer.name"] = _column(row, 23)
    if "rulebase security rules" in path:
        fields["event.category"] = ["configuration", "network"]
        fields["rule.name"] = path.rsplit(" ", 1)[-1]
        # NOTE: the after-change detail is only logged when the firewall is set to
        # include it, so a rule opened without that setting is not marked.
        is_open = bool(_ANY_SOURCE.search(after) and _ALLOW_ACTION.search(after))
        fields["socwb.network.is_open_to_world"] = is_open or None
    elif "mgt-config users" in path:
        _classify_admin_change(fields, command, path, after)


def _classify_admin_change(fields: Fields, command: str, path: str, after: str) -> None:
    role = _ADMIN_ROLE.search(after)
    kind = "deletion" if command == "delete" else "change"
    fields["event.category"] = ["iam", "configuration"]
    fields["event.type"] = ["user", kind]
    fields["user.target.name"] = path.rsplit(" ", 1)[-1]
    fields["socwb.iam.permission"] = role["role"] if role else None
    if role and is_admin_role(role["role"]) and kind != "deletion":
        fields["event.type"].append("admin")
        fields["socwb.iam.is_escalation"] = True


def _convert_system(fields: Fields, row: list[str]) -> None:
    event_id = _column(row, 8) or "unknown"
    description = _column(row, 14) or ""
    fields["event.action"] = event_id
    fields["event.code"] = event_id
    fields["message"] = description or None
    fields["socwb.alert.severity"] = _column(row, 13)
    fields["panw.panos.module"] = _column(row, 12)
    fields["observer.name"] = _column(row, 22)
    if event_id.startswith("globalprotect") and "auth-" in event_id:
        login = _GP_LOGIN.search(description)
        failed = event_id.endswith("auth-fail")
        _set_login(fields, "vpn-login", failed, vpn=True)
        fields["user.name"] = login["user"].strip() if login else None
        fields["source.ip"] = as_ip(login["ip"]) if login else None
    elif event_id == "auth-fail":
        user = _ADMIN_AUTH_FAILURE.search(description)
        source = _ADMIN_AUTH_SOURCE.search(description)
        _set_login(fields, "login", True, vpn=False)
        fields["user.name"] = user["user"] if user else None
        fields["source.ip"] = as_ip(source["ip"]) if source else None


def _convert_globalprotect(fields: Fields, row: list[str]) -> None:
    event_id = _column(row, 8) or "unknown"
    status = (_column(row, 28) or "").lower()
    fields["event.action"] = event_id
    fields["event.code"] = event_id
    fields["user.name"] = _column(row, 12)
    fields["source.ip"] = as_ip(_column(row, 15)) or as_ip(_column(row, 16))
    fields["source.geo.country_iso_code"] = _column(row, 13)
    fields["event.reason"] = _column(row, 26) or _column(row, 25)
    fields["panw.panos.stage"] = _column(row, 9)
    fields["panw.panos.auth_method"] = _column(row, 10)
    fields["observer.name"] = _column(row, 47)
    if "auth" in event_id and status in ("success", "failure"):
        _set_login(fields, "vpn-login", status == "failure", vpn=True)


def _set_login(fields: Fields, prefix: str, failed: bool, *, vpn: bool) -> None:
    fields["event.category"] = ["authentication", "network"] if vpn else ["authentication"]
    fields["event.type"] = ["start"]
    fields["event.outcome"] = "failure" if failed else "success"
    fields["event.action"] = f"{prefix}-failed" if failed else f"{prefix}-succeeded"


_CONVERTERS: dict[str, Callable[[Fields, list[str]], None]] = {
    "TRAFFIC": _convert_traffic,
    "THREAT": _convert_threat,
    "CONFIG": _convert_config,
    "SYSTEM": _convert_system,
    "GLOBALPROTECT": _convert_globalprotect,
}
