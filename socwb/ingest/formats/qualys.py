"""Qualys VM scan reports in the `ASSET_DATA_REPORT` XML format: one event per detection.

Each `HOST/VULN_INFO_LIST/VULN_INFO` is a detection of one QID on one host. Title,
severity, CVSS scores and CVEs of a QID live once in `GLOSSARY/VULN_DETAILS_LIST`
and are joined to every detection of that QID.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from xml.etree.ElementTree import Element, tostring

from socwb.ingest.formats._base import DocumentNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    as_float,
    as_int,
    as_ip,
    cvss_version,
    parse_time,
)
from socwb.ingest.formats._xml import child_text, parse_xml
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

# Qualys severity levels 1 to 5 are Minimal, Medium, Serious, Critical and Urgent.
_SEVERITY_BY_LEVEL = {"5": "Critical", "4": "High", "3": "Medium", "2": "Low", "1": "Low"}


@dataclass(frozen=True)
class _Detection:
    """One VULN_INFO with the host it was found on, the QID details and the report time."""

    host: Element
    info: Element
    details: Element | None
    generated: str | None


def _float_at(element: Element | None, path: str) -> float | None:
    if element is None:
        return None
    found = element.find(path)
    return as_float(found.text) if found is not None and found.text else None


class QualysNormalizer(DocumentNormalizer):
    """Qualys `ASSET_DATA_REPORT` XML documents."""

    name: ClassVar[str] = "qualys"
    source: ClassVar[Source] = "vulnscan"
    module: ClassVar[str] = "qualys"
    vendor: ClassVar[str | None] = "Qualys"
    product: ClassVar[str | None] = "Qualys VM"
    timestamp_fields: ClassVar[str] = "LAST_FOUND or GENERATION_DATETIME"

    def sniff(self, head: str) -> bool:
        """Return whether `head` starts an ASSET_DATA_REPORT document."""
        return "<ASSET_DATA_REPORT" in head[:4096]

    def split_records(self, text: str) -> Iterator[tuple[str, Any]]:
        """Yield one record per VULN_INFO, joined with its QID's glossary entry."""
        root = parse_xml(text)
        if root.tag != "ASSET_DATA_REPORT":
            raise RecordError(f"expected an ASSET_DATA_REPORT document, found <{root.tag}>")
        glossary = {
            (child_text(details, "QID") or ""): details for details in root.iter("VULN_DETAILS")
        }
        generated = child_text(root.find("HEADER"), "GENERATION_DATETIME")
        for host in root.iter("HOST"):
            for info in host.iter("VULN_INFO"):
                qid = child_text(info, "QID") or ""
                detection = _Detection(host, info, glossary.get(qid), generated)
                yield tostring(info, encoding="unicode"), detection

    def convert(self, payload: Any, ctx: ParseContext) -> Fields:
        """Convert one detection."""
        detection: _Detection = payload
        details = detection.details
        qid = child_text(detection.info, "QID")
        cves = _cves(details)
        cvss3 = _float_at(details, "CVSS3_SCORE/CVSS3_BASE")
        cvss2 = _float_at(details, "CVSS_SCORE/CVSS_BASE")
        fields: Fields = {
            "@timestamp": parse_time(child_text(detection.info, "LAST_FOUND"))
            or parse_time(detection.generated),
            "event.kind": "event",
            "event.category": ["vulnerability"],
            "event.type": ["info"],
            "event.action": "vulnerability-detected",
            "vulnerability.id": cves[0] if cves else f"QID-{qid}",
            "socwb.vulnerability.ids": cves or None,
            "vulnerability.scanner.vendor": "Qualys",
            "vulnerability.enumeration": "CVE" if cves else "QID",
            "vulnerability.severity": _SEVERITY_BY_LEVEL.get(
                child_text(details, "SEVERITY") or "", "Unknown"
            ),
            "vulnerability.score.base": cvss3 if cvss3 is not None else cvss2,
            "vulnerability.score.version": _score_version(details, cvss3, cvss2),
            "vulnerability.description": child_text(details, "TITLE"),
            "vulnerability.category": [child_text(details, "CATEGORY")],
            "rule.id": qid,
            "rule.name": child_text(details, "TITLE"),
            "host.name": child_text(detection.host, "DNS")
            or child_text(detection.host, "NETBIOS")
            or child_text(detection.host, "IP"),
            "host.ip": as_ip(child_text(detection.host, "IP")),
            "destination.port": as_int(child_text(detection.info, "PORT")),
            "network.transport": child_text(detection.info, "PROTOCOL"),
            "qualys.vuln_status": child_text(detection.info, "VULN_STATUS"),
            "qualys.type": child_text(detection.info, "TYPE"),
        }
        return fields


def _cves(details: Element | None) -> list[str]:
    if details is None:
        return []
    return [
        (element.text or "").strip()
        for element in details.iterfind("CVE_ID_LIST/CVE_ID/ID")
        if (element.text or "").strip()
    ]


def _score_version(details: Element | None, cvss3: float | None, cvss2: float | None) -> str | None:
    if cvss3 is not None:
        return cvss_version(child_text(details, "CVSS3_SCORE/CVSS3_VECTOR"), "3.0")
    return "2.0" if cvss2 is not None else None
