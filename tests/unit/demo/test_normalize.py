"""Every generated record goes through the real normalizers without a reject."""

from __future__ import annotations

from .conftest import NormalizedRun, field


def test_every_record_parses_without_rejects(small_run: NormalizedRun):
    reasons = {path: rejects[0].reason for path, rejects in small_run.rejects.items()}

    assert reasons == {}


def test_normalized_counts_match_manifest(small_run: NormalizedRun):
    expected: dict[str, int] = {}
    for entry in small_run.manifest.files:
        expected[entry.format] = expected.get(entry.format, 0) + entry.events

    for format_name, events in small_run.events.items():
        assert len(events) == expected[format_name], format_name


def test_login_addresses_have_countries(small_run: NormalizedRun):
    okta = small_run.events["okta"]

    missing = [event for event in okta if field(event, "source.geo.country_iso_code") is None]
    assert okta
    assert missing == []


def test_metric_documents_have_documented_fields(small_run: NormalizedRun):
    hosts = small_run.metrics["host_metrics"]
    services = small_run.metrics["service_metrics"]

    assert all(0 < field(doc, "host.cpu.usage") <= 1 for doc in hosts)
    assert all(field(doc, "host.network.egress.bytes") > 0 for doc in hosts)
    assert all(field(doc, "event.kind") == "metric" for doc in hosts + services)
    assert all(field(doc, "network.egress.bytes") > 0 for doc in services)
