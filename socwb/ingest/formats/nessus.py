"""Tenable Nessus v2 XML reports (`.nessus`): one event per ReportItem."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any, ClassVar
from xml.etree.ElementTree import Element, tostring

from socwb.ingest.formats._base import DocumentNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    as_float,
    as_int,
    as_ip,
    cvss_version,
    normalize_severity,
    parse_time,
    timezone_named,
)
from socwb.ingest.formats._xml import child_text, parse_xml
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)

_SEVERITY_BY_LEVEL = {"0": "None", "1": "Low", "2": "Medium", "3": "High", "4": "Critical"}


def _host_tags(host: Element) -> dict[str, str]:
    properties = host.find("HostProperties")
    if properties is None:
        return {}
    return {tag.get("name", ""): (tag.text or "").strip() for tag in properties.findall("tag")}


class NessusNormalizer(DocumentNormalizer):
    """Nessus `NessusClientData_v2` documents."""

    name: ClassVar[str] = "nessus"
    source: ClassVar[Source] = "vulnscan"
    module: ClassVar[str] = "nessus"
    vendor: ClassVar[str | None] = "Tenable"
    product: ClassVar[str | None] = "Nessus"
    timestamp_fields: ClassVar[str] = "HOST_END or HOST_START"

    def sniff(self, head: str) -> bool:
        """Return whether `head` starts a Nessus v2 document."""
        return "<NessusClientData_v2" in head[:4096]

    def split_records(self, text: str) -> Iterator[tuple[str, Any]]:
        """Yield one record per ReportItem, paired with its host's properties."""
        root = parse_xml(text)
        for host in root.iter("ReportHost"):
            tags = _host_tags(host)
            tags.setdefault("name", host.get("name", ""))
            for item in host.findall("ReportItem"):
                yield tostring(item, encoding="unicode"), (tags, item)

    def convert(self, payload: Any, ctx: ParseContext) -> Fields:
        """Convert one ReportItem."""
        tags, item = payload
        cves = [(cve.text or "").strip() for cve in item.findall("cve") if cve.text]
        cvss3 = as_float(child_text(item, "cvss3_base_score"))
        cvss2 = as_float(child_text(item, "cvss_base_score"))
        plugin_id = item.get("pluginID")
        fields: Fields = {
            "@timestamp": parse_time(tags.get("HOST_END_TIMESTAMP"))
            or _nessus_time(
                tags.get("HOST_END") or tags.get("HOST_START"),
                timezone_named(ctx.default_timezone),
            ),
            "event.kind": "event",
            "event.category": ["vulnerability"],
            "event.type": ["info"],
            "event.action": "vulnerability-detected",
            "vulnerability.id": cves[0] if cves else f"NESSUS-{plugin_id}",
            "socwb.vulnerability.ids": cves or None,
            "vulnerability.scanner.vendor": "Tenable",
            "vulnerability.enumeration": "CVE" if cves else "NESSUS",
            "vulnerability.severity": normalize_severity(child_text(item, "risk_factor"))
            or _SEVERITY_BY_LEVEL.get(item.get("severity", ""), "Unknown"),
            "vulnerability.score.base": cvss3 if cvss3 is not None else cvss2,
            "vulnerability.score.version": cvss_version(child_text(item, "cvss3_vector"), "3.0")
            if cvss3 is not None
            else "2.0"
            if cvss2 is not None
            else None,
            "vulnerability.description": child_text(item, "synopsis"),
            "vulnerability.category": [item.get("pluginFamily")],
            "rule.id": plugin_id,
            "rule.name": item.get("pluginName"),
            "host.name": tags.get("host-fqdn") or tags.get("netbios-name") or tags.get("name"),
            "host.ip": as_ip(tags.get("host-ip")),
            "destination.port": as_int(item.get("port")) or None,
            "network.transport": item.get("protocol"),
            "service.name": item.get("svc_name"),
        }
        return fields


def _nessus_time(value: str | None, zone: tzinfo) -> datetime | None:
    """Parse `Wed Mar 23 14:31:51 2022`, the scanner's local time, in `zone`."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %Y").replace(tzinfo=zone)
    except ValueError:
        return None
