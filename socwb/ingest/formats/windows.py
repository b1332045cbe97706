"""Windows event log records (Security, Sysmon, PowerShell, System) as flat JSON,
as shipped by NXLog, Winlogbeat-to-Logstash or similar collectors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_int,
    as_ip,
    as_str,
    first_time,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_LOGON_TYPES = {
    "2": "interactive",
    "3": "network",
    "4": "batch",
    "5": "service",
    "7": "unlock",
    "8": "network-cleartext",
    "9": "new-credentials",
    "10": "remote-interactive",
    "11": "cached-interactive",
}
_GROUP_ADD = frozenset({4728, 4732, 4756})
_GROUP_REMOVE = frozenset({4729, 4733, 4757})
_TRANSPORTS = {"6": "tcp", "17": "udp", "1": "icmp"}


def _text(record: Record, key: str) -> str | None:
    value = as_str(pick(record, key))
    return None if value in ("-", "%%1793") else value


def _base_name(path: str | None) -> str | None:
    return path.replace("\\", "/").rsplit("/", 1)[-1] if path else None


def _hashes(value: str | None, prefix: str) -> Fields:
    fields: Fields = {}
    for part in (value or "").split(","):
        kind, _, digest = part.partition("=")
        if kind.upper() in ("MD5", "SHA1", "SHA256") and digest:
            fields[f"{prefix}.hash.{kind.lower()}"] = digest.lower()
    return fields


def _domain_user(value: str | None) -> str | None:
    return value.rsplit("\\", 1)[-1] if value else None


class WindowsEventNormalizer(JsonLinesNormalizer):
    """Flat JSON Windows event records (`EventID`, `Channel`, event data at top level)."""

    name: ClassVar[str] = "windows_eventlog"
    source: ClassVar[Source] = "edr"
    module: ClassVar[str] = "windows"
    vendor: ClassVar[str | None] = "Microsoft"
    product: ClassVar[str | None] = "Windows"
    timestamp_fields: ClassVar[str] = "@timestamp, UtcTime or TimeCreated"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has an event id and a channel or provider."""
        return "EventID" in record and ("Channel" in record or "SourceName" in record)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one event record."""
        event_id = as_int(pick(record, "EventID")) or 0
        channel = as_str(pick(record, "Channel")) or ""
        fields: Fields = {
            "@timestamp": first_time(record, ("@timestamp",), ("UtcTime",), ("TimeCreated",)),
            "event.code": str(event_id),
            "event.action": f"event-{event_id}",
            "event.provider": as_str(pick(record, "SourceName")),
            "event.category": ["host"],
            "event.type": ["info"],
            "host.name": as_str(pick(record, "Hostname")) or as_str(pick(record, "Computer")),
            "winlog.channel": channel,
            "winlog.record_id": as_str(pick(record, "RecordNumber")),
            "message": (as_str(pick(record, "Message")) or "").split("\r\n", 1)[0] or None,
        }
        handler = None
        if "Sysmon" in channel:
            handler = _SYSMON.get(event_id)
        elif channel == "Security":
            handler = _SECURITY.get(event_id)
        if handler is not None:
            handler(fields, record)
        elif event_id == 4104:
            fields["event.category"] = ["process"]
            fields["event.action"] = "powershell-script-block"
            fields["powershell.file.script_block_text"] = _text(record, "ScriptBlockText")
        return fields


def _sysmon_process(fields: Fields, record: Record) -> None:
    image = _text(record, "Image")
    fields.update(
        {
            "event.category": ["process"],
            "event.type": ["start"],
            "event.action": "process-created",
            "process.executable": image,
            "process.name": _base_name(image),
            "process.command_line": _text(record, "CommandLine"),
            "process.pid": as_int(pick(record, "ProcessId")),
            "process.entity_id": _text(record, "ProcessGuid"),
            "process.parent.executable": _text(record, "ParentImage"),
            "process.parent.name": _base_name(_text(record, "ParentImage")),
            "process.parent.command_line": _text(record, "ParentCommandLine"),
            "process.parent.pid": as_int(pick(record, "ParentProcessId")),
            "user.name": _domain_user(_text(record, "User")),
            "user.domain": (_text(record, "User") or "\\").rsplit("\\", 1)[0] or None,
        }
    )
    fields.update(_hashes(_text(record, "Hashes"), "process"))


def _sysmon_network(fields: Fields, record: Record) -> None:
    image = _text(record, "Image")
    fields.update(
        {
            "event.category": ["network"],
            "event.type": ["connection", "start"],
            "event.action": "network-connection",
            "process.executable": image,
            "process.name": _base_name(image),
            "source.ip": as_ip(pick(record, "SourceIp")),
            "source.port": as_int(pick(record, "SourcePort")),
            "destination.ip": as_ip(pick(record, "DestinationIp")),
            "destination.port": as_int(pick(record, "DestinationPort")),
            "destination.domain": _text(record, "DestinationHostname"),
            "network.transport": (_text(record, "Protocol") or "").lower() or None,
            "user.name": _domain_user(_text(record, "User")),
        }
    )


def _sysmon_process_access(fields: Fields, record: Record) -> None:
    source = _text(record, "SourceImage")
    target = _text(record, "TargetImage")
    fields.update(
        {
            "event.category": ["process"],
            "event.type": ["access"],
            "event.action": "process-accessed",
            "process.executable": source,
            "process.name": _base_name(source),
            "process.pid": as_int(pick(record, "SourceProcessId")),
            "winlog.event_data.TargetImage": target,
            "winlog.event_data.GrantedAccess": _text(record, "GrantedAccess"),
            "socwb.process.target_name": _base_name(target),
        }
    )


def _sysmon_file(fields: Fields, record: Record) -> None:
    path = _text(record, "TargetFilename")
    fields.update(
        {
            "event.category": ["file"],
            "event.type": ["creation"],
            "event.action": "file-created",
            "file.path": path,
            "file.name": _base_name(path),
            "process.executable": _text(record, "Image"),
            "process.name": _base_name(_text(record, "Image")),
        }
    )


def _sysmon_registry(fields: Fields, record: Record) -> None:
    fields.update(
        {
            "event.category": ["registry"],
            "event.type": ["change"],
            "event.action": "registry-" + (_text(record, "EventType") or "event").lower(),
            "registry.path": _text(record, "TargetObject"),
            "registry.data.strings": [_text(record, "Details")],
            "process.executable": _text(record, "Image"),
            "process.name": _base_name(_text(record, "Image")),
        }
    )


def _sysmon_image_load(fields: Fields, record: Record) -> None:
    fields.update(
        {
            "event.category": ["library"],
            "event.type": ["start"],
            "event.action": "image-loaded",
            "dll.path": _text(record, "ImageLoaded"),
            "dll.name": _base_name(_text(record, "ImageLoaded")),
            "process.executable": _text(record, "Image"),
            "process.name": _base_name(_text(record, "Image")),
        }
    )
    fields.update(_hashes(_text(record, "Hashes"), "dll"))


def _sysmon_dns(fields: Fields, record: Record) -> None:
    fields.update(
        {
            "event.category": ["network"],
            "event.type": ["protocol", "info"],
            "event.action": "dns-query",
            "dns.question.name": _text(record, "QueryName"),
            "process.name": _base_name(_text(record, "Image")),
        }
    )


def _logon(fields: Fields, record: Record) -> None:
    event_id = int(fields["event.code"])
    success = event_id == 4624
    logon_type = _text(record, "LogonType")
    fields.update(
        {
            "event.category": ["authentication"],
            "event.type": ["start"],
            "event.action": "logged-in" if success else "logon-failed",
            "event.outcome": "success" if success else "failure",
            "user.name": _text(record, "TargetUserName"),
            "user.domain": _text(record, "TargetDomainName"),
            "user.id": _text(record, "TargetUserSid"),
            "source.ip": as_ip(pick(record, "IpAddress")),
            "source.port": as_int(pick(record, "IpPort")),
            "source.domain": _text(record, "WorkstationName"),
            "winlog.logon.type": _LOGON_TYPES.get(logon_type or "", logon_type),
            "event.reason": _text(record, "FailureReason"),
        }
    )


def _security_process(fields: Fields, record: Record) -> None:
    image = _text(record, "NewProcessName")
    fields.update(
        {
            "event.category": ["process"],
            "event.type": ["start"],
            "event.action": "process-created",
            "process.executable": image,
            "process.name": _base_name(image),
            "process.command_line": _text(record, "CommandLine"),
            "process.pid": as_int(pick(record, "NewProcessId")),
            "process.parent.executable": _text(record, "ParentProcessName"),
            "process.parent.name": _base_name(_text(record, "ParentProcessName")),
            "user.name": _text(record, "SubjectUserName"),
        }
    )


def _account_change(fields: Fields, record: Record) -> None:
    event_id = int(fields["event.code"])
    fields["event.category"] = ["iam"]
    fields["event.outcome"] = "success"
    fields["user.name"] = _text(record, "SubjectUserName")
    if event_id in _GROUP_ADD or event_id in _GROUP_REMOVE:
        group = _text(record, "TargetUserName")
        member = _text(record, "MemberName")
        added = event_id in _GROUP_ADD
        fields["event.type"] = ["group", "change" if added else "deletion"]
        fields["event.action"] = "group-member-added" if added else "group-member-removed"
        fields["group.name"] = group
        fields["user.target.name"] = _member_name(member)
        fields["socwb.iam.permission"] = group
        if added and group and "admin" in group.lower():
            fields["event.type"].append("admin")
            fields["socwb.iam.is_escalation"] = True
        return
    actions = {
        4720: "user-created",
        4722: "user-enabled",
        4724: "password-reset",
        4726: "user-deleted",
        4738: "user-changed",
    }
    fields["event.action"] = actions.get(event_id, f"event-{event_id}")
    types = {4720: "creation", 4726: "deletion"}
    fields["event.type"] = ["user", types.get(event_id, "change")]
    fields["user.target.name"] = _text(record, "TargetUserName")


def _member_name(member: str | None) -> str | None:
    if member and member.upper().startswith("CN="):
        return member[3:].split(",", 1)[0]
    return member


def _firewall(fields: Fields, record: Record) -> None:
    event_id = int(fields["event.code"])
    protocol = _text(record, "Protocol") or ""
    fields.update(
        {
            "event.category": ["network"],
            "event.type": ["connection", "allowed"] if event_id == 5156 else ["connection", "info"],
            "event.action": "connection-permitted" if event_id == 5156 else "bind-permitted",
            "event.outcome": "success",
            "source.ip": as_ip(pick(record, "SourceAddress")),
            "source.port": as_int(pick(record, "SourcePort")),
            "destination.ip": as_ip(pick(record, "DestAddress")),
            "destination.port": as_int(pick(record, "DestPort")),
            "network.transport": _TRANSPORTS.get(protocol, protocol or None),
            "process.executable": _text(record, "Application"),
            "process.name": _base_name(_text(record, "Application")),
        }
    )


def _log_cleared(fields: Fields, record: Record) -> None:
    fields.update(
        {
            "event.category": ["configuration"],
            "event.type": ["deletion"],
            "event.action": "audit-log-cleared",
            "user.name": _text(record, "SubjectUserName"),
        }
    )


def _special_privileges(fields: Fields, record: Record) -> None:
    fields.update(
        {
            "event.category": ["iam"],
            "event.type": ["admin", "info"],
            "event.action": "special-privileges-assigned",
            "user.name": _text(record, "SubjectUserName"),
        }
    )


def _object_access(fields: Fields, record: Record) -> None:
    path = _text(record, "ObjectName")
    fields.update(
        {
            "event.category": ["file"] if _text(record, "ObjectType") == "File" else ["host"],
            "event.type": ["access"],
            "event.action": "object-access",
            "user.name": _text(record, "SubjectUserName"),
            "file.path": path if _text(record, "ObjectType") == "File" else None,
            "process.executable": _text(record, "ProcessName"),
            "process.name": _base_name(_text(record, "ProcessName")),
        }
    )


Handler = Callable[[Fields, Record], None]

_SYSMON: dict[int, Handler] = {
    1: _sysmon_process,
    3: _sysmon_network,
    7: _sysmon_image_load,
    10: _sysmon_process_access,
    11: _sysmon_file,
    12: _sysmon_registry,
    13: _sysmon_registry,
    14: _sysmon_registry,
    22: _sysmon_dns,
}
_SECURITY: dict[int, Handler] = {
    4624: _logon,
    4625: _logon,
    4688: _security_process,
    4720: _account_change,
    4722: _account_change,
    4724: _account_change,
    4726: _account_change,
    4738: _account_change,
    **{event_id: _account_change for event_id in _GROUP_ADD | _GROUP_REMOVE},
    5156: _firewall,
    5158: _firewall,
    1102: _log_cleared,
    4672: _special_privileges,
    4656: _object_access,
    4663: _object_access,
}
