"""Microsoft Defender for Endpoint alerts from the alerts API (`GET /api/alerts`), one per line.

These records carry `alertCreationTime`, `detectionSource`, `machineId` and an
`evidence` list. Microsoft Graph security alerts and Defender XDR advanced hunting
rows are read by `edr_alerts` instead. Malware alerts take the SHA-256, name and
path of the first file evidence.
"""

from __future__ import annotations

import logging
import re
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
    normalize_severity,
    pick,
)
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_HEX_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"[0-9a-fA-F]+")
_MALWARE_CATEGORIES = frozenset({"malware", "ransomware", "unwantedsoftware"})


class DefenderEndpointNormalizer(JsonLinesNormalizer):
    """Defender for Endpoint alerts with their evidence."""

    name: ClassVar[str] = "defender_endpoint"
    source: ClassVar[Source] = "edr"
    module: ClassVar[str] = "microsoft_defender"
    vendor: ClassVar[str | None] = "Microsoft"
    product: ClassVar[str | None] = "Defender for Endpoint"
    timestamp_fields: ClassVar[str] = "alertCreationTime"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a Defender for Endpoint API alert."""
        return "alertCreationTime" in record and (
            "detectionSource" in record or "machineId" in record
        )

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one alert."""
        category = as_str(pick(record, "category")) or ""
        is_malware = category.replace(" ", "").lower() in _MALWARE_CATEGORIES
        fields: Fields = {
            "@timestamp": first_time(record, ("alertCreationTime",), ("firstEventTime",)),
            "event.id": as_str(pick(record, "id")),
            "event.kind": "alert",
            "event.category": ["malware"] if is_malware else ["threat"],
            "event.type": ["info"] if is_malware else ["indicator"],
            "event.action": "malware-detected" if is_malware else "alert",
            "event.provider": as_str(pick(record, "detectionSource")),
            "event.severity": _severity_number(pick(record, "severity")),
            "socwb.alert.severity": as_str(pick(record, "severity")),
            "message": as_str(pick(record, "description")),
            "rule.name": as_str(pick(record, "title")),
            "rule.id": as_str(pick(record, "detectorId")),
            "rule.category": category or None,
            "threat.software.name": as_str(pick(record, "threatFamilyName"))
            or as_str(pick(record, "threatName")),
            "defender.threat_name": as_str(pick(record, "threatName")),
            "threat.technique.id": [str(item) for item in as_list(pick(record, "mitreTechniques"))],
            "host.name": as_str(pick(record, "computerDnsName")),
            "host.id": as_str(pick(record, "machineId")),
            "user.name": as_str(pick(record, "relatedUser", "userName")),
            "user.domain": as_str(pick(record, "relatedUser", "domainName")),
            "defender.status": as_str(pick(record, "status")),
            "defender.incident_id": as_str(pick(record, "incidentId")),
        }
        _add_evidence(fields, pick(record, "evidence"))
        return fields


def _severity_number(value: Any) -> int | None:
    """Map Defender severities to `event.severity` (1 informational to 4 high)."""
    levels = {"None": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 4}
    name = normalize_severity(value)
    return levels.get(name) if name else None


def _add_evidence(fields: Fields, evidence: Any) -> None:
    """Fill file, process and address fields from the first evidence of each kind."""
    for item in as_list(evidence):
        entity = (as_str(pick(item, "entityType")) or "").lower()
        if entity == "file" and "file.name" not in fields:
            _add_file(fields, item)
        elif entity == "process" and "process.pid" not in fields:
            fields["process.pid"] = as_int(pick(item, "processId"))
            fields["process.command_line"] = as_str(pick(item, "processCommandLine"))
            fields["process.parent.pid"] = as_int(pick(item, "parentProcessId"))
        elif entity == "ip" and "source.ip" not in fields:
            fields["source.ip"] = as_ip(pick(item, "ipAddress"))
        elif entity == "user" and fields.get("user.name") is None:
            fields["user.name"] = as_str(pick(item, "accountName"))
            fields["user.domain"] = as_str(pick(item, "domainName"))


def _add_file(fields: Fields, item: Any) -> None:
    name = as_str(pick(item, "fileName"))
    folder = as_str(pick(item, "filePath"))
    fields["file.name"] = name
    fields["file.directory"] = folder
    fields["file.path"] = folder.rstrip("\\") + "\\" + name if folder and name else name
    for key in ("sha256", "sha1", "md5"):
        value = as_str(pick(item, key))
        if value and _HEX.fullmatch(value) and _HEX_BY_LENGTH.get(len(value)) == key:
            fields[f"file.hash.{key}"] = value.lower()
