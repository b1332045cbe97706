"""CrowdStrike Falcon Data Replicator (FDR) events and Falcon streaming API events."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_int,
    as_ip,
    as_list,
    as_str,
    first_time,
    is_admin_role,
    outcome_from_bool,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_ZERO_HASH = frozenset({"0" * 32, "0" * 40, "0" * 64})


def _hash(value: Any) -> str | None:
    text = as_str(value)
    return None if text is None or text in _ZERO_HASH else text.lower()


def _base_name(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rsplit("/", 1)[-1] or None


class CrowdStrikeFdrNormalizer(JsonLinesNormalizer):
    """Falcon Data Replicator events (ProcessRollup2, DnsRequest, NetworkConnectIP4, ...).

    Fields may sit at the top level or inside the `event` object, with either key
    case, so every lookup tries both places.
    """

    name: ClassVar[str] = "crowdstrike_fdr"
    source: ClassVar[Source] = "edr"
    module: ClassVar[str] = "crowdstrike"
    vendor: ClassVar[str | None] = "CrowdStrike"
    product: ClassVar[str | None] = "Falcon"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is an FDR event (`aid`/`cid` plus an event name)."""
        has_name = any(
            key in record for key in ("event_simpleName", "event_simplename", "fdr_event_type")
        )
        return has_name or ("cid" in record and "aid" in record)

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one FDR event."""
        # Events the replicator cannot type arrive wrapped in `unknown_payload`.
        event = pick(record, "event")
        if not isinstance(event, dict):
            event = pick(record, "unknown_payload")
        if not isinstance(event, dict):
            event = {}

        def value(key: str) -> Any:
            found = pick(event, key)
            return found if found not in (None, "") else pick(record, key)

        name = (
            as_str(value("event_simpleName"))
            or as_str(pick(record, "fdr_event_type"))
            or as_str(value("ExternalApiType"))
            or "unknown"
        )
        fields: Fields = {
            "@timestamp": first_time(
                record, ("timestamp",), ("event", "timestamp"), ("unknown_payload", "timestamp")
            ),
            "event.id": as_str(value("id")),
            "event.action": name,
            "event.category": ["host"],
            "event.type": ["info"],
            "host.id": as_str(value("aid")),
            "host.ip": as_ip(value("aip")),
            "host.name": as_str(value("ComputerName")) or as_str(value("HostnameField")),
            "host.os.family": _platform(as_str(value("event_platform"))),
            "user.id": as_str(value("UserSid")),
            "user.name": as_str(value("UserName")),
        }
        if name.startswith("ProcessRollup") or name in (
            "SyntheticProcessRollup2",
            "ProcessBlocked",
        ):
            _process(fields, value)
        elif name == "DnsRequest":
            fields["event.category"] = ["network"]
            fields["event.type"] = ["protocol", "info"]
            fields["dns.question.name"] = (as_str(value("DomainName")) or "").rstrip(".") or None
            fields["network.protocol"] = "dns"
        elif name.startswith("NetworkConnect") or name.startswith("NetworkAccept"):
            _network(fields, value)
        elif name.startswith("Event_RemoteResponseSession"):
            fields["event.category"] = ["session"]
            fields["event.type"] = ["start" if "Start" in name else "end"]
            fields["user.name"] = as_str(value("UserName"))
        return fields


def _platform(platform: str | None) -> str | None:
    return {"Win": "windows", "Mac": "macos", "Lin": "linux"}.get(platform or "", platform)


def _process(fields: Fields, value: Any) -> None:
    image = as_str(value("ImageFileName"))
    fields.update(
        {
            "event.category": ["process"],
            "event.type": ["start"],
            "process.name": _base_name(image),
            "process.executable": image,
            "process.command_line": as_str(value("CommandLine")),
            "process.pid": as_int(value("RawProcessId")),
            "process.entity_id": as_str(value("TargetProcessId")),
            "process.parent.name": as_str(value("ParentBaseFileName")),
            "process.parent.entity_id": as_str(value("ParentProcessId")),
            "process.hash.md5": _hash(value("MD5HashData")),
            "process.hash.sha1": _hash(value("SHA1HashData")),
            "process.hash.sha256": _hash(value("SHA256HashData")),
        }
    )


def _network(fields: Fields, value: Any) -> None:
    protocol = as_int(value("Protocol"))
    fields.update(
        {
            "event.category": ["network"],
            "event.type": ["connection", "start"],
            "source.ip": as_ip(value("LocalAddressIP4")) or as_ip(value("LocalAddressIP6")),
            "source.port": as_int(value("LocalPort")),
            "destination.ip": as_ip(value("RemoteAddressIP4")) or as_ip(value("RemoteAddressIP6")),
            "destination.port": as_int(value("RemotePort")),
            "network.transport": {6: "tcp", 17: "udp", 1: "icmp"}.get(protocol or -1),
        }
    )


class CrowdStrikeStreamNormalizer(JsonLinesNormalizer):
    """Falcon streaming API events (`{"metadata": {...}, "event": {...}}`)."""

    name: ClassVar[str] = "crowdstrike_stream"
    source: ClassVar[Source] = "edr"
    module: ClassVar[str] = "crowdstrike"
    vendor: ClassVar[str | None] = "CrowdStrike"
    product: ClassVar[str | None] = "Falcon"
    timestamp_fields: ClassVar[str] = "metadata.eventCreationTime"

    def matches(self, record: Record) -> bool:
        """Return whether `record` has the streaming API metadata envelope."""
        return pick(record, "metadata", "eventType") is not None and "event" in record

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one streaming event."""
        event_type = as_str(pick(record, "metadata", "eventType")) or "unknown"
        event = pick(record, "event")
        fields: Fields = {
            "@timestamp": first_time(
                record,
                ("metadata", "eventCreationTime"),
                ("event", "UTCTimestamp"),
                ("event", "ProcessStartTime"),
            ),
            "event.id": as_str(pick(record, "metadata", "offset")),
            "event.action": event_type,
        }
        if event_type == "EppDetectionSummaryEvent" or event_type == "DetectionSummaryEvent":
            _detection(fields, event)
        else:
            _audit(fields, event)
        return fields


def _detection(fields: Fields, event: Any) -> None:
    path = as_str(pick(event, "FilePath"))
    file_name = as_str(pick(event, "FileName"))
    fields.update(
        {
            "event.kind": "alert",
            "event.category": ["malware", "intrusion_detection"],
            "event.type": ["info"],
            "event.action": "detection",
            "event.severity": as_int(pick(event, "Severity")),
            "host.name": as_str(pick(event, "Hostname")) or as_str(pick(event, "ComputerName")),
            "host.ip": as_ip(pick(event, "LocalIP")),
            "user.name": as_str(pick(event, "UserName")),
            "file.name": file_name,
            "file.path": f"{path}\\{file_name}"
            if path and file_name and not path.endswith(file_name)
            else path,
            "file.hash.md5": _hash(pick(event, "MD5String")),
            "file.hash.sha1": _hash(pick(event, "SHA1String")),
            "file.hash.sha256": _hash(pick(event, "SHA256String")),
            "process.name": file_name,
            "process.command_line": as_str(pick(event, "CommandLine")),
            "process.parent.name": as_str(pick(event, "ParentImageFileName")),
            "process.parent.command_line": as_str(pick(event, "ParentCommandLine")),
            "rule.name": as_str(pick(event, "Name")),
            "rule.description": as_str(pick(event, "Description")),
            "threat.tactic.name": [as_str(pick(event, "Tactic"))],
            "threat.technique.name": [as_str(pick(event, "Technique"))],
            "threat.framework": "MITRE ATT&CK" if pick(event, "Tactic") else None,
            "event.url": as_str(pick(event, "FalconHostLink")),
        }
    )


def _audit_values(event: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in as_list(pick(event, "AuditKeyValues")):
        key = as_str(pick(item, "Key"))
        if key is not None:
            values[key] = as_str(pick(item, "ValueString")) or ""
    return values


def _audit(fields: Fields, event: Any) -> None:
    operation = as_str(pick(event, "OperationName")) or "unknown"
    values = _audit_values(event)
    fields.update(
        {
            "event.action": operation,
            "event.category": ["iam"] if "user" in operation.lower() else ["configuration"],
            "event.type": ["change"],
            "event.outcome": outcome_from_bool(pick(event, "Success")),
            "user.name": as_str(pick(event, "UserId")),
            "source.ip": as_ip(pick(event, "UserIp")),
            "service.name": as_str(pick(event, "ServiceName")),
            "user.target.name": values.get("target_name") or values.get("user_name"),
        }
    )
    lowered = operation.lower()
    if lowered.startswith("create"):
        fields["event.type"] = ["creation"]
    elif lowered.startswith("delete"):
        fields["event.type"] = ["deletion"]
    if "user" in lowered:
        fields["event.type"] = ["user", *fields["event.type"]]
    roles = values.get("roles") or values.get("role_ids") or ""
    if operation == "grantUserRoles":
        fields["socwb.iam.permission"] = roles or None
        if is_admin_role(roles):
            fields["event.type"] = ["user", "change", "admin"]
            fields["socwb.iam.is_escalation"] = True
