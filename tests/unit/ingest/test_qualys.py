"""Qualys ASSET_DATA_REPORT XML normalization.

The normalizer is used through its class here because it is not in the registry.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from socwb.ingest.formats.qualys import QualysNormalizer
from socwb.ingest.model import ParseContext, Rejected
from socwb.ingest.registry import get_normalizer

from .conftest import TEST_DATA, events_of, field

SAMPLE = TEST_DATA / "qualys_asset_data_report.xml"


def _parse(lines):
    return list(QualysNormalizer().parse(lines, ParseContext(source_name="qualys.xml")))


def _events():
    with SAMPLE.open("rb") as stream:
        return events_of(_parse(stream))


def test_qualys_one_event_per_detection():
    with SAMPLE.open("rb") as stream:
        results = _parse(stream)

    assert len(results) == 3
    assert not [result for result in results if isinstance(result, Rejected)]


def test_qualys_critical_cvss3_detection():
    event = _events()[0]

    assert event["@timestamp"] == "2024-03-20T09:55:10.000Z"
    assert field(event, "event.category") == ["vulnerability"]
    assert field(event, "event.action") == "vulnerability-detected"
    assert field(event, "event.dataset") == "vulnscan.qualys"
    assert field(event, "vulnerability.id") == "CVE-2021-44228"
    assert field(event, "socwb.vulnerability.ids") == ["CVE-2021-44228", "CVE-2021-45046"]
    assert field(event, "vulnerability.score.base") == 10.0
    assert field(event, "vulnerability.score.version") == "3.1"
    assert field(event, "vulnerability.severity") == "Critical"
    assert field(event, "vulnerability.scanner.vendor") == "Qualys"
    assert field(event, "rule.id") == "730302"
    assert field(event, "host.name") == "app01.corp.example.com"
    assert field(event, "host.ip") == "10.20.1.30"
    assert field(event, "destination.port") == 8080
    assert field(event, "event.original").startswith("<VULN_INFO>")


def test_qualys_cvss2_only_detection_without_cve():
    event = _events()[1]

    assert field(event, "vulnerability.id") == "QID-38170"
    assert field(event, "vulnerability.enumeration") == "QID"
    assert field(event, "vulnerability.score.base") == 5.0
    assert field(event, "vulnerability.score.version") == "2.0"
    assert field(event, "vulnerability.severity") == "Low"


def test_qualys_host_without_dns():
    event = _events()[2]

    assert event["@timestamp"] == "2024-03-20T12:00:00.000Z"
    assert field(event, "host.name") == "10.20.1.31"
    assert field(event, "vulnerability.score.base") == 10.0
    assert field(event, "qualys.type") == "Potential"


def test_qualys_entity_declaration_is_rejected():
    text = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><ASSET_DATA_REPORT/>'

    [result] = _parse([text])

    assert isinstance(result, Rejected)
    assert "rejected XML" in result.reason


def test_qualys_other_root_is_rejected():
    [result] = _parse(["<NessusClientData_v2/>"])

    assert isinstance(result, Rejected)
    assert "expected an ASSET_DATA_REPORT document" in result.reason


def test_qualys_sniff_is_exclusive():
    head = SAMPLE.read_text(encoding="utf-8")

    assert QualysNormalizer().sniff(head)
    assert not get_normalizer("nessus").sniff(head)
    assert not get_normalizer("openvas").sniff(head)
    assert not get_normalizer("trivy").sniff(head)


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=400))
def test_qualys_survives_arbitrary_text(text):
    results = _parse(text.splitlines(keepends=True))

    assert all(isinstance(result, (dict, Rejected)) for result in results)
