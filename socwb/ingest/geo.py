"""Offline country lookup for IP addresses.

`MmdbGeoLookup` reads a MaxMind GeoLite2/GeoIP2 `.mmdb` file; `BundledGeoLookup` uses
the data file shipped inside the `geoip2fast` package. Neither does network I/O:
geoip2fast is given the explicit path of its bundled file and its update functions
are never called. Addresses that are not globally routable (private, loopback,
link-local, CGNAT, documentation, reserved) get no country.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from pathlib import Path
from typing import Any

from socwb.ingest.model import GeoLookup

logger = logging.getLogger(__name__)

_BUNDLED_DATA_FILE = "geoip2fast-ipv6.dat.gz"
"""geoip2fast data file with IPv4 and IPv6 country networks (ships with the package)."""


def is_public_ip(ip: str) -> bool:
    """Return whether `ip` is a globally routable unicast address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return address.is_global and not address.is_multicast


class MmdbGeoLookup:
    """Country lookup in a MaxMind `.mmdb` database (GeoLite2-Country or -City).

    NOTE: the unit tests have no `.mmdb` file, so this class is type-checked but
    has not been run against a real GeoLite2 database.
    """

    def __init__(self, path: Path) -> None:
        """Open the database at `path`.

        Raises:
            FileNotFoundError: `path` does not exist.
            ValueError: The file is not a valid MaxMind database.
        """
        import maxminddb

        self._reader = maxminddb.open_database(str(path))

    def country(self, ip: str) -> tuple[str, str | None] | None:
        """Return `(iso_code, English name)` for a public `ip`, or None."""
        if not is_public_ip(ip):
            return None
        record: Any = self._reader.get(ip)
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code")
        if not isinstance(code, str):
            return None
        name = country.get("names", {}).get("en")
        return code, name if isinstance(name, str) else None


class BundledGeoLookup:
    """Country lookup in the data file bundled with the `geoip2fast` package."""

    def __init__(self) -> None:
        """Load the bundled data file into memory."""
        import geoip2fast  # type: ignore[import-untyped]

        data_file = Path(geoip2fast.__file__).parent / _BUNDLED_DATA_FILE
        self._geoip = geoip2fast.GeoIP2Fast(geoip2fast_data_file=str(data_file))

    def country(self, ip: str) -> tuple[str, str | None] | None:
        """Return `(iso_code, name)` for a public `ip`, or None."""
        if not is_public_ip(ip):
            return None
        result = self._geoip.lookup(ip)
        code = getattr(result, "country_code", "")
        if not isinstance(code, str) or len(code) != 2 or not code.isalpha():
            return None
        name = getattr(result, "country_name", None)
        return code, name if isinstance(name, str) and name else None


@functools.cache
def bundled_geo_lookup() -> BundledGeoLookup:
    """Return a shared `BundledGeoLookup`, loading its data on first use."""
    return BundledGeoLookup()


def create_geo_lookup(mmdb_path: Path | None = None) -> GeoLookup:
    """Return the `.mmdb` lookup when a path is given, else the bundled geoip2fast one."""
    if mmdb_path is not None:
        return MmdbGeoLookup(mmdb_path)
    return bundled_geo_lookup()
