"""Builders of text log lines (sshd, OpenVPN, Cisco ASA, PostgreSQL) and metric documents.

Syslog lines use the RFC 3164 header in local time, which carries no year: the
manifest records the year of each file.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import Any

from socwb.demo.records import dump, iso_ms

logger = logging.getLogger(__name__)


def syslog_header(moment: datetime, zone: tzinfo, host: str, tag: str) -> str:
    """Return `Mmm dd hh:mm:ss host tag: ` in local time, the day padded with a space."""
    local = moment.astimezone(zone)
    return f"{local:%b} {local.day:2d} {local:%H:%M:%S} {host} {tag}: "


def sshd(moment: datetime, zone: tzinfo, host: str, pid: int, message: str) -> str:
    """Return one sshd line."""
    return syslog_header(moment, zone, host, f"sshd[{pid}]") + message


def openvpn(moment: datetime, zone: tzinfo, host: str, message: str) -> str:
    """Return one OpenVPN server line (process `ovpn-server`)."""
    return syslog_header(moment, zone, host, "ovpn-server[901]") + message


def cisco_asa(moment: datetime, zone: tzinfo, host: str, level: int, code: str, text: str) -> str:
    """Return one ASA message with the ASA `logging timestamp` prefix, which has a year."""
    local = moment.astimezone(zone)
    return f"{local:%b %d %Y %H:%M:%S} {host} : %ASA-{level}-{code}: {text}"


def postgresql(
    moment: datetime,
    zone: tzinfo,
    session: tuple[str, str, str],
    pid: int,
    level: str,
    message: str,
) -> str:
    """Return one PostgreSQL stderr line with `log_line_prefix = '%t:%r:%u@%d:[%p]:'`.

    Args:
        session: Remote `host(port)`, user and database; empty strings for none.
    """
    local = moment.astimezone(zone)
    remote, user, database = session
    stamp = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    return f"{stamp}:{remote}:{user}@{database}:[{pid}]:{level}:  {message}"


def host_metric(
    moment: datetime,
    host: str,
    service: str,
    cpu: float,
    memory: float,
    network: tuple[int, int],
) -> str:
    """Return one host metric document (5-minute period) with ECS field names.

    Args:
        cpu: CPU use as a fraction of all cores (0 to 1), ECS `host.cpu.usage`.
        memory: Memory use as a fraction (0 to 1).
        network: Bytes received and sent during the period.
    """
    ingress, egress = network
    document: dict[str, Any] = {
        "@timestamp": iso_ms(moment),
        "event": {"kind": "metric", "dataset": "metrics.host", "module": "socwb"},
        "metricset": {"name": "host", "period": 300000},
        "host": {
            "name": host,
            "cpu": {"usage": round(cpu, 4)},
            "network": {"ingress": {"bytes": ingress}, "egress": {"bytes": egress}},
        },
        "system": {"memory": {"used": {"pct": round(memory, 4)}}},
        "service": {"name": service},
    }
    return dump(document)


def service_metric(moment: datetime, service: str, egress: int, requests: int) -> str:
    """Return one service egress document (5-minute period) for a managed service."""
    document: dict[str, Any] = {
        "@timestamp": iso_ms(moment),
        "event": {"kind": "metric", "dataset": "metrics.service", "module": "socwb"},
        "metricset": {"name": "service", "period": 300000},
        "service": {"name": service},
        "network": {"egress": {"bytes": egress}},
        "http": {"request": {"count": requests}},
    }
    return dump(document)
