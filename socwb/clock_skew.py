"""Clock-skew findings for the clock-skew rule: hosts whose events arrive too far from their time.

The measurement is the coverage report's (`socwb.coverage.host_skew`): per host,
the median of `event.ingested - @timestamp`. The rule looks only at the
events received during its `lookback` and leaves out those more than
`max_delay` old, so a backfill of old logs never reads as a slow clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from socwb.catalogue import Catalogue
from socwb.coverage import NO_HOST, HostSkew, host_skew
from socwb.rules.evaluate import Episode
from socwb.rules.model import ClockSkewSpec, TimeWindow
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkewFinding:
    """A host of one source whose median delay is past the bound.

    Attributes:
        source: Catalogue key of the source.
        pattern: Data stream pattern of the source.
        host: The host, or None for events without `host.name`.
        skew: The coverage measurement.
    """

    source: str
    pattern: str
    host: str | None
    skew: HostSkew

    def episode(self, received: TimeWindow) -> Episode:
        """Return the episode of this finding: the receive window, peak the absolute median (s)."""
        return Episode(
            first_event=received.start,
            last_event=received.end,
            count=self.skew.events,
            peak=abs(self.skew.median_s),
        )

    def evidence(self) -> dict[str, object]:
        """Return the alert evidence: source, delays in seconds and the reason."""
        return {
            "source": self.source,
            "median_delay_seconds": self.skew.median_s,
            "p95_delay_seconds": self.skew.p95_s,
            "min_delay_seconds": self.skew.min_s,
            "max_delay_seconds": self.skew.max_s,
            "events": self.skew.events,
            "reason": self.skew.reason,
        }


def find_skewed_hosts(
    backend: SearchBackend,
    catalogue: Catalogue,
    namespace: str,
    spec: ClockSkewSpec,
    received: TimeWindow,
) -> list[SkewFinding]:
    """Return the flagged hosts of every source over the events received in `received`."""
    earliest: datetime = received.start - spec.max_delay
    findings = []
    for source in catalogue.sources:
        pattern = source.data_stream_pattern(namespace)
        hosts = host_skew(backend, pattern, received, spec.max_skew, earliest_event=earliest)
        for skew in hosts:
            if not skew.is_flagged:
                continue
            host = None if skew.host == NO_HOST else skew.host
            findings.append(SkewFinding(source.key, pattern, host, skew))
            logger.info(
                "clock skew source=%s host=%s median_s=%.0f events=%d",
                source.key,
                skew.host,
                skew.median_s,
                skew.events,
            )
    return findings
