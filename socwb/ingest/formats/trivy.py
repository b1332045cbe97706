"""Aqua Trivy JSON reports: current format (`SchemaVersion` 2) and the legacy
format before v0.20 (a top-level list of targets). One event per vulnerability."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from socwb.ingest.formats._base import DocumentNormalizer
from socwb.ingest.formats._fields import (
    MAX_DOCUMENT_CHARS,
    Fields,
    as_float,
    as_list,
    as_str,
    cvss_version,
    load_json,
    normalize_severity,
    parse_time,
    pick,
)
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_CVSS_SOURCES = ("nvd", "redhat", "ghsa")


class TrivyNormalizer(DocumentNormalizer):
    """Trivy `--format json` reports (image, filesystem and repository scans)."""

    name: ClassVar[str] = "trivy"
    source: ClassVar[Source] = "vulnscan"
    module: ClassVar[str] = "trivy"
    vendor: ClassVar[str | None] = "Aqua Security"
    product: ClassVar[str | None] = "Trivy"
    timestamp_fields: ClassVar[str] = "CreatedAt"

    def sniff(self, head: str) -> bool:
        """Return whether `head` starts a current or legacy Trivy report."""
        start = head.lstrip()[:4096]
        if start.startswith("{"):
            return '"SchemaVersion"' in start and ('"ArtifactName"' in start or '"Results"' in head)
        return start.startswith("[") and '"Target"' in start and '"Vulnerabilities"' in head

    def split_records(self, text: str) -> Iterator[tuple[str, Any]]:
        """Yield one record per vulnerability with its report and target context."""
        document = load_json(text, MAX_DOCUMENT_CHARS)
        if isinstance(document, list):
            report: dict[str, Any] = {}
            results = document
        elif isinstance(document, dict):
            report = document
            results = as_list(document.get("Results"))
        else:
            raise RecordError("expected a Trivy report object or a legacy list of targets")
        for result in results:
            for vulnerability in as_list(pick(result, "Vulnerabilities")):
                raw = json.dumps(vulnerability, separators=(",", ":"), ensure_ascii=False)
                yield raw, (report, result, vulnerability)

    def convert(self, payload: Any, ctx: ParseContext) -> Fields:
        """Convert one vulnerability."""
        report, result, vulnerability = payload
        score, version = _cvss(pick(vulnerability, "CVSS"))
        target = as_str(pick(result, "Target"))
        artifact = as_str(pick(report, "ArtifactName"))
        is_image = pick(report, "ArtifactType") == "container_image"
        fields: Fields = {
            "@timestamp": parse_time(pick(report, "CreatedAt")),
            "event.kind": "event",
            "event.category": ["vulnerability"],
            "event.type": ["info"],
            "event.action": "vulnerability-detected",
            "vulnerability.id": as_str(pick(vulnerability, "VulnerabilityID")),
            "vulnerability.enumeration": "CVE",
            "vulnerability.scanner.vendor": "Aqua Security",
            "vulnerability.severity": normalize_severity(pick(vulnerability, "Severity")),
            "vulnerability.score.base": score,
            "vulnerability.score.version": version,
            "vulnerability.description": as_str(pick(vulnerability, "Title"))
            or as_str(pick(vulnerability, "Description")),
            "vulnerability.reference": as_str(pick(vulnerability, "PrimaryURL")),
            "vulnerability.classification": "CVSS" if score is not None else None,
            "package.name": as_str(pick(vulnerability, "PkgName")),
            "package.version": as_str(pick(vulnerability, "InstalledVersion")),
            "package.type": as_str(pick(result, "Type")),
            "package.path": as_str(pick(vulnerability, "PkgPath")),
            "socwb.vulnerability.fixed_version": as_str(pick(vulnerability, "FixedVersion")),
            "container.image.name": artifact if is_image else None,
            "host.name": None if is_image else artifact,
            "socwb.vulnerability.target": target,
        }
        return fields


def _cvss(cvss: Any) -> tuple[float | None, str | None]:
    """Return the base score and version, preferring NVD and CVSS v3 over v2."""
    if not isinstance(cvss, dict):
        return None, None
    sources = [name for name in _CVSS_SOURCES if name in cvss] + sorted(
        name for name in cvss if name not in _CVSS_SOURCES
    )
    for name in sources:
        score = as_float(pick(cvss, name, "V3Score"))
        if score is not None:
            return score, cvss_version(as_str(pick(cvss, name, "V3Vector")), "3.0")
    for name in sources:
        score = as_float(pick(cvss, name, "V2Score"))
        if score is not None:
            return score, "2.0"
    return None, None
