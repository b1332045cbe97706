"""EDR alert records of several vendors: SentinelOne activities, Carbon Black Cloud
alerts (v2 API), Microsoft Graph security alerts (v2) and Defender XDR advanced
hunting rows. One normalizer handles all four because exports often mix them;
each record is routed by its own keys and `event.module` names its vendor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
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
    pick,
)
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

# SentinelOne activity type ids for threat detections (Management API activity types).
_S1_THREAT_TYPES = frozenset({18, 19, 20, 3608, 4107, 4110, 4111})


def _file_name(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rsplit("/", 1)[-1] or None


def _hash_fields(prefix: str, value: str | None) -> Fields:
    if not value:
        return {}
    kind = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(value))
    return {f"{prefix}.hash.{kind}": value.lower()} if kind else {}


def _sentinelone(record: Record) -> Fields:
    data = pick(record, "data")
    activity = as_int(pick(record, "activitytype")) or 0
    path = as_str(pick(data, "filepath"))
    fields: Fields = {
        "event.module": "sentinelone",
        "@timestamp": first_time(record, ("createdat",), ("data", "createdat")),
        "event.id": as_str(pick(record, "id")),
        "event.code": str(activity),
        "event.action": f"activity-{activity}",
        "event.category": ["host"],
        "event.type": ["info"],
        "message": as_str(pick(record, "primarydescription")),
        "host.name": as_str(pick(data, "computername")),
        "file.path": path,
        "file.name": as_str(pick(data, "filedisplayname")) or _file_name(path),
        "rule.name": as_str(pick(data, "rulename")),
        "threat.indicator.confidence": as_str(pick(data, "confidencelevel")),
        "observer.vendor": "SentinelOne",
        "observer.product": "Singularity",
    }
    fields.update(_hash_fields("file", as_str(pick(data, "filecontenthash"))))
    if activity in _S1_THREAT_TYPES:
        fields["event.kind"] = "alert"
        fields["event.category"] = ["malware"]
        fields["event.action"] = "threat-detected"
        fields["threat.software.type"] = as_str(pick(data, "threatclassification"))
    return fields


def _carbonblack(record: Record) -> Fields:
    process_path = as_str(pick(record, "process_name"))
    child = as_str(pick(record, "childproc_name"))
    fields: Fields = {
        "event.module": "carbonblack",
        "@timestamp": first_time(record, ("detection_timestamp",), ("backend_timestamp",)),
        "event.id": as_str(pick(record, "id")),
        "event.kind": "alert",
        "event.category": ["malware", "process"],
        "event.type": ["denied"] if pick(record, "sensor_action") == "DENY" else ["info"],
        "event.action": (as_str(pick(record, "type")) or "alert").lower(),
        "event.reason": as_str(pick(record, "reason")),
        "event.severity": as_int(pick(record, "severity")),
        "event.url": as_str(pick(record, "alert_url")),
        "host.name": as_str(pick(record, "device_name")),
        "host.ip": as_ip(pick(record, "device_internal_ip")),
        "user.name": as_str(pick(record, "process_username")),
        "process.name": _file_name(process_path),
        "process.executable": process_path,
        "process.command_line": as_str(pick(record, "process_cmdline")),
        "process.hash.sha256": as_str(pick(record, "process_sha256")),
        "process.hash.md5": as_str(pick(record, "process_md5")),
        "process.parent.name": _file_name(as_str(pick(record, "parent_name"))),
        "file.path": as_str(pick(record, "blocked_name")) or child,
        "file.name": _file_name(as_str(pick(record, "blocked_name")) or child),
        "file.hash.sha256": as_str(pick(record, "blocked_sha256"))
        or as_str(pick(record, "childproc_sha256")),
        "rule.id": as_str(pick(record, "reason_code")),
        "threat.tactic.id": [as_str(pick(record, "attack_tactic"))],
        "observer.vendor": "VMware",
        "observer.product": "Carbon Black Cloud",
    }
    if pick(record, "sensor_action") == "DENY":
        fields["event.outcome"] = "failure"
    return fields


def _graph_alert(record: Record) -> Fields:
    fields: Fields = {
        "event.module": "microsoft_defender",
        "@timestamp": first_time(record, ("createdDateTime",), ("firstActivityDateTime",)),
        "event.id": as_str(pick(record, "id")),
        "event.kind": "alert",
        "event.category": ["threat"],
        "event.type": ["indicator"],
        "event.action": as_str(pick(record, "category")) or "alert",
        "socwb.alert.severity": as_str(pick(record, "severity")),
        "message": as_str(pick(record, "description")),
        "rule.name": as_str(pick(record, "title")),
        "observer.vendor": "Microsoft",
        "observer.product": as_str(pick(record, "productName"))
        or as_str(pick(record, "serviceSource")),
    }
    for evidence in as_list(pick(record, "evidence")):
        found = {
            "user.name": as_str(pick(evidence, "userAccount", "userPrincipalName")),
            "source.ip": as_ip(pick(evidence, "ipAddress")),
            "host.name": as_str(pick(evidence, "deviceDnsName")),
            "file.hash.sha256": as_str(pick(evidence, "fileDetails", "sha256")),
        }
        for key, value in found.items():
            if value is not None and fields.get(key) is None:
                fields[key] = value
    if "malware" in (as_str(pick(record, "category")) or "").lower():
        fields["event.category"] = ["malware"]
    return fields


def _techniques(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return [value]
    return [str(item) for item in as_list(value)]


def _advanced_hunting(record: Record) -> Fields:
    properties = pick(record, "properties")
    table = (as_str(pick(record, "category")) or "AdvancedHunting").split("-", 1)[-1]
    return {
        "event.module": "microsoft_defender",
        "@timestamp": first_time(record, ("properties", "Timestamp"), ("time",)),
        "event.id": as_str(pick(properties, "AlertId")) or as_str(pick(properties, "ReportId")),
        "event.kind": "alert" if table.startswith("Alert") else "event",
        "event.category": ["threat"],
        "event.type": ["indicator"],
        "event.action": table,
        "socwb.alert.severity": as_str(pick(properties, "Severity")),
        "rule.name": as_str(pick(properties, "Title")),
        "rule.category": as_str(pick(properties, "Category")),
        "host.name": as_str(pick(properties, "DeviceName")),
        "threat.technique.name": _techniques(pick(properties, "AttackTechniques")),
        "observer.vendor": "Microsoft",
        "observer.product": as_str(pick(properties, "ServiceSource")) or "Defender XDR",
    }


def _converter(record: Record) -> Callable[[Record], Fields] | None:
    if "activitytype" in record and "data" in record:
        return _sentinelone
    if "alert_url" in record or "org_key" in record:
        return _carbonblack
    if "serviceSource" in record and "title" in record:
        return _graph_alert
    if str(pick(record, "category") or "").startswith("AdvancedHunting"):
        return _advanced_hunting
    return None


class EdrAlertNormalizer(JsonLinesNormalizer):
    """SentinelOne, Carbon Black, Graph security and Defender XDR records, one per line."""

    name: ClassVar[str] = "edr_alerts"
    source: ClassVar[Source] = "edr"
    module: ClassVar[str] = "edr"
    timestamp_fields: ClassVar[str] = "createdat, detection_timestamp or createdDateTime"

    def matches(self, record: Record) -> bool:
        """Return whether `record` belongs to one of the supported vendors."""
        return _converter(record) is not None

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one record with its vendor's converter."""
        converter = _converter(record)
        if converter is None:
            raise RecordError(
                "unknown EDR record: expected a SentinelOne activity, Carbon Black alert, "
                "Graph security alert or Defender advanced hunting row"
            )
        return converter(record)
