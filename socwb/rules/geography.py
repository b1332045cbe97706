"""Country centroids and great-circle distances for the impossible-travel rule.

Each country is reduced to one point, roughly its geographic centre, so the
distance between two countries is only an estimate. It can be thousands of
kilometres off for large countries (Russia, the United States, Canada, Brazil,
China, Australia), where a login near a border is far from the centroid.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0
"""Mean Earth radius (IUGG)."""

COUNTRY_CENTROIDS: dict[str, tuple[float, float]] = {
    "AU": (-25.7, 134.5),
    "BR": (-10.8, -52.9),
    "CA": (56.1, -106.3),
    "CN": (35.0, 103.0),
    "DE": (51.2, 10.4),
    "ES": (40.2, -3.6),
    "FR": (46.6, 2.4),
    "GB": (54.0, -2.5),
    "IN": (22.9, 79.6),
    "IT": (42.8, 12.6),
    "JP": (36.2, 138.3),
    "KR": (36.5, 127.9),
    "NL": (52.2, 5.5),
    "PL": (52.1, 19.4),
    "RU": (61.5, 105.3),
    "SE": (62.0, 15.0),
    "US": (39.8, -98.6),
    "VN": (16.0, 106.3),
}
"""Approximate centroid (latitude, longitude in degrees) per ISO 3166-1 alpha-2 code.

It lists the countries that the demo data uses. NOTE: a country missing here
is never compared, so travel to or from it raises nothing; extend the table for
the organisation's own countries.
"""


def great_circle_km(first: tuple[float, float], second: tuple[float, float]) -> float:
    """Return the haversine distance in kilometres between two (latitude, longitude) points."""
    lat1, lon1 = (math.radians(value) for value in first)
    lat2, lon2 = (math.radians(value) for value in second)
    half_chord = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, half_chord)))


def country_distance_km(first: str, second: str) -> float | None:
    """Return the distance between two countries' centroids, or None if one is not in the table.

    The codes are compared in upper case; the same country gives 0.
    """
    first_point = COUNTRY_CENTROIDS.get(first.upper())
    second_point = COUNTRY_CENTROIDS.get(second.upper())
    if first_point is None or second_point is None:
        return None
    return great_circle_km(first_point, second_point)
