"""Infrastructure metric documents: host resource use and service egress, one JSON object per line.

Both formats are ECS-shaped documents with `event.kind: metric` and a
`metricset` that names them, as metric shippers write them. A host document
carries `host.name`, `host.cpu.usage` (fraction of all cores, 0 to 1),
`system.memory.used.pct` and the network bytes of its period. A service
document carries `service.name` and `network.egress.bytes`, which is copied to
`socwb.data.bytes` so egress rules sum log events and metrics alike.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from socwb.ingest.formats._base import JsonLinesNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    Record,
    as_float,
    as_int,
    as_str,
    parse_time,
    pick,
)
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)


def _base_fields(record: Record, metricset: str) -> Fields:
    moment = parse_time(record.get("@timestamp"))
    if moment is None:
        raise RecordError("invalid @timestamp: expected ISO 8601 with a UTC offset")
    return {
        "@timestamp": moment,
        "event.kind": "metric",
        "event.category": ["host"],
        "event.type": ["info"],
        "event.action": f"{metricset}-metrics",
        "metricset.name": metricset,
        "metricset.period": as_int(pick(record, "metricset", "period")),
        "service.name": as_str(pick(record, "service", "name")),
    }


def _is_metricset(record: Record, name: str) -> bool:
    is_metric = pick(record, "event", "kind") == "metric"
    return bool(is_metric and pick(record, "metricset", "name") == name)


def _fraction(record: Record, *path: str) -> float | None:
    value = as_float(pick(record, *path))
    if value is not None and not 0.0 <= value <= 1.0:
        raise RecordError(f"invalid {'.'.join(path)} {value}: expected a fraction from 0 to 1")
    return value


def _bytes(record: Record, *path: str) -> int | None:
    value = as_int(pick(record, *path))
    if value is not None and value < 0:
        raise RecordError(f"invalid {'.'.join(path)} {value}: expected a byte count of 0 or more")
    return value


class HostMetricsNormalizer(JsonLinesNormalizer):
    """Host resource metrics (`metricset.name: host`), one document per host and period."""

    name: ClassVar[str] = "host_metrics"
    source: ClassVar[Source] = "metrics"
    module: ClassVar[str] = "socwb"
    timestamp_fields: ClassVar[str] = "@timestamp"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a metric document of the host metricset."""
        return _is_metricset(record, "host")

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Validate and copy the host's name and resource fields."""
        host = as_str(pick(record, "host", "name"))
        if not host:
            raise RecordError("invalid host metric document: missing host.name")
        fields = _base_fields(record, "host")
        fields["host.name"] = host
        fields["host.cpu.usage"] = _fraction(record, "host", "cpu", "usage")
        fields["system.memory.used.pct"] = _fraction(record, "system", "memory", "used", "pct")
        fields["host.network.ingress.bytes"] = _bytes(record, "host", "network", "ingress", "bytes")
        fields["host.network.egress.bytes"] = _bytes(record, "host", "network", "egress", "bytes")
        return fields


class ServiceMetricsNormalizer(JsonLinesNormalizer):
    """Service egress metrics (`metricset.name: service`), one document per service and period."""

    name: ClassVar[str] = "service_metrics"
    source: ClassVar[Source] = "metrics"
    module: ClassVar[str] = "socwb"
    timestamp_fields: ClassVar[str] = "@timestamp"

    def matches(self, record: Record) -> bool:
        """Return whether `record` is a metric document of the service metricset."""
        return _is_metricset(record, "service")

    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Validate and copy the service's name, egress bytes and request count."""
        fields = _base_fields(record, "service")
        if not fields["service.name"]:
            raise RecordError("invalid service metric document: missing service.name")
        egress = _bytes(record, "network", "egress", "bytes")
        fields["network.egress.bytes"] = egress
        fields["socwb.data.bytes"] = egress
        fields["http.request.count"] = as_int(pick(record, "http", "request", "count"))
        return fields
