"""OpenVAS / Greenbone (GVM) XML reports: one event per result."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any, ClassVar
from xml.etree.ElementTree import Element, tostring

from socwb.ingest.formats._base import DocumentNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    as_float,
    as_int,
    as_ip,
    normalize_severity,
    parse_time,
)
from socwb.ingest.formats._xml import child_text, parse_xml
from socwb.ingest.model import ParseContext, Source

logger = logging.getLogger(__name__)


class OpenVasNormalizer(DocumentNormalizer):
    """GVM `<report>` documents (the `get_reports` XML format)."""

    name: ClassVar[str] = "openvas"
    source: ClassVar[Source] = "vulnscan"
    module: ClassVar[str] = "openvas"
    vendor: ClassVar[str | None] = "Greenbone"
    product: ClassVar[str | None] = "OpenVAS"
    timestamp_fields: ClassVar[str] = "creation_time or modification_time"

    def sniff(self, head: str) -> bool:
        """Return whether `head` starts a GVM report."""
        start = head.lstrip()[:2048]
        return (
            start.startswith(("<report", "<?xml"))
            and "<report" in start
            and ("format_id" in start or "<results" in head or "<omp" in head)
        )

    def split_records(self, text: str) -> Iterator[tuple[str, Any]]:
        """Yield one record per `<result>` that names an NVT."""
        root = parse_xml(text)
        for result in root.iter("result"):
            if result.find("nvt") is not None:
                yield tostring(result, encoding="unicode"), result

    def convert(self, payload: Any, ctx: ParseContext) -> Fields:
        """Convert one result."""
        result: Element = payload
        nvt = result.find("nvt")
        host = result.find("host")
        cves = _cves(nvt)
        oid = nvt.get("oid") if nvt is not None else None
        port_text = child_text(result, "port") or ""
        port, _, transport = port_text.partition("/")
        score = as_float(child_text(nvt, "cvss_base")) or as_float(child_text(result, "severity"))
        fields: Fields = {
            "@timestamp": parse_time(child_text(result, "creation_time"))
            or parse_time(child_text(result, "modification_time")),
            "event.id": result.get("id"),
            "event.kind": "event",
            "event.category": ["vulnerability"],
            "event.type": ["info"],
            "event.action": "vulnerability-detected",
            "vulnerability.id": cves[0] if cves else oid,
            "socwb.vulnerability.ids": cves or None,
            "vulnerability.enumeration": "CVE" if cves else "OID",
            "vulnerability.scanner.vendor": "Greenbone",
            "vulnerability.severity": normalize_severity(child_text(result, "threat")),
            "vulnerability.score.base": score,
            "vulnerability.score.version": "2.0" if score is not None else None,
            "vulnerability.description": child_text(result, "description"),
            "vulnerability.category": [child_text(nvt, "family")],
            "rule.id": oid,
            "rule.name": child_text(nvt, "name"),
            "host.ip": as_ip((host.text or "").strip()) if host is not None else None,
            "host.name": child_text(host, "hostname")
            or ((host.text or "").strip() if host is not None else None),
            "destination.port": as_int(port),
            "network.transport": transport or None,
        }
        return fields


def _cves(nvt: Element | None) -> list[str]:
    if nvt is None:
        return []
    found = [ref.get("id", "") for ref in nvt.iter("ref") if ref.get("type") == "cve"]
    legacy = child_text(nvt, "cve") or ""
    found.extend(re.findall(r"CVE-\d{4}-\d+", legacy))
    return [cve for cve in found if cve]
