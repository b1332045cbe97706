"""Offline country lookup with the data bundled in geoip2fast."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.geo import bundled_geo_lookup, is_public_ip

from .conftest import field


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3",
        "192.168.0.1",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "2001:db8::1",
        "::1",
        "fe80::1",
        "240.0.0.1",
        "not-an-ip",
    ],
)
def test_non_public_address_has_no_country(ip):
    assert is_public_ip(ip) is False
    assert bundled_geo_lookup().country(ip) is None


def test_public_address_has_country():
    assert bundled_geo_lookup().country("8.8.8.8") == ("US", "United States")


def test_parse_context_geo_sets_source_country(parse_lines):
    record = {
        "uuid": "u-1",
        "published": "2024-01-01T00:00:00Z",
        "eventType": "user.session.start",
        "actor": {"alternateId": "a@example.com"},
        "client": {"ipAddress": "8.8.8.8"},
    }

    [event] = parse_lines("okta", [json.dumps(record)], geo=bundled_geo_lookup())

    assert field(event, "source.geo.country_iso_code") == "US"
    assert field(event, "source.geo.country_name") == "United States"


def test_bundled_lookup_does_no_network_io(monkeypatch):
    import socket
    import urllib.request

    from socwb.ingest.geo import BundledGeoLookup

    def fail_on_network(*args, **kwargs):
        raise AssertionError("network I/O attempted")

    monkeypatch.setattr(socket.socket, "connect", fail_on_network)
    monkeypatch.setattr(socket, "create_connection", fail_on_network)
    monkeypatch.setattr(urllib.request, "urlopen", fail_on_network)

    lookup = BundledGeoLookup()

    assert lookup.country("1.1.1.1") is not None
