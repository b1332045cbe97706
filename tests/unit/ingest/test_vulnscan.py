"""Vulnerability scanner normalization: Trivy, Nessus and OpenVAS."""

from __future__ import annotations

from .conftest import field


def test_trivy_critical_musl_vulnerability(sample_event):
    event = sample_event("trivy", "vulnscan/trivy_image_report_alpine39.json", "CVE-2019-14697")

    assert event["@timestamp"] == "2021-08-25T12:20:30.000Z"
    assert field(event, "event.kind") == "event"
    assert field(event, "event.category") == ["vulnerability"]
    assert field(event, "vulnerability.id") == "CVE-2019-14697"
    assert field(event, "vulnerability.severity") == "Critical"
    assert field(event, "vulnerability.score.base") == 9.8
    assert field(event, "vulnerability.score.version") == "3.0"
    assert field(event, "vulnerability.scanner.vendor") == "Aqua Security"
    assert field(event, "package.name") == "musl"
    assert field(event, "package.version") == "1.1.20-r4"
    assert field(event, "container.image.name") == "testdata/fixtures/images/alpine-39.tar.gz"


def test_trivy_spring4shell(sample_event):
    event = sample_event("trivy", "vulnscan/trivy_image_report_spring4shell.json", "CVE-2022-22965")

    assert field(event, "package.name") == "org.springframework:spring-beans"
    assert field(event, "vulnerability.score.version") == "3.1"
    assert field(event, "vulnerability.severity") == "Critical"


def test_trivy_legacy_format_with_fallback_time(sample_event):
    event = sample_event("trivy", "vulnscan/trivy_legacy_format_report.json", "CVE-2011-3374")

    assert event["tags"] == ["timestamp_from_context"]
    assert field(event, "vulnerability.severity") == "Low"
    assert field(event, "vulnerability.score.base") == 3.7
    assert field(event, "package.name") == "apt"


def test_nessus_critical_finding(sample_event):
    event = sample_event("nessus", "vulnscan/nessus_scan_cvssv3.nessus", "PHP Unsupported Version")

    assert event["@timestamp"] == "2022-03-23T14:07:52.000Z"
    assert field(event, "vulnerability.id") == "NESSUS-58987"
    assert field(event, "vulnerability.severity") == "Critical"
    assert field(event, "vulnerability.score.base") == 10.0
    assert field(event, "vulnerability.scanner.vendor") == "Tenable"
    assert field(event, "host.name") == "testphp.vulnweb.com"
    assert field(event, "host.ip") == "47.149.212.59"


def test_nessus_finding_with_cve(sample_event):
    event = sample_event("nessus", "vulnscan/nessus_scan_cvssv3.nessus", "<cve>CVE-")

    assert field(event, "vulnerability.id").startswith("CVE-")
    assert field(event, "vulnerability.enumeration") == "CVE"


def test_openvas_rexec_finding(sample_event):
    event = sample_event("openvas", "vulnscan/openvas_report.xml", "rexec service is running")

    assert event["@timestamp"] == "2023-09-29T11:36:37.717Z"
    assert field(event, "vulnerability.id") == "CVE-1999-0618"
    assert field(event, "vulnerability.severity") == "High"
    assert field(event, "vulnerability.score.base") == 10.0
    assert field(event, "destination.port") == 512
    assert field(event, "host.name") == "b6b9f466d63"


def test_xml_with_entity_declaration_is_rejected(parse_lines):
    document = [
        '<?xml version="1.0"?>\n',
        '<!DOCTYPE x [<!ENTITY a "aaaa">]>\n',
        "<NessusClientData_v2>&a;</NessusClientData_v2>\n",
    ]

    [result] = parse_lines("nessus", document)

    assert result.reason.startswith("rejected XML")
