"""Fortinet FortiGate (FortiOS) logs in the syslog `key=value` format.

Each line is `date=... time=... devname="..." logid="..." type="traffic" ...`,
optionally behind a syslog header. The time comes from `eventtime`, a Unix epoch in
seconds or nanoseconds depending on the FortiOS version. Lines without it use `date`
and `time` with the `tz` offset, or `ParseContext.default_timezone` without `tz`.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import (
    Fields,
    as_int,
    as_ip,
    is_admin_role,
    parse_epoch,
    timezone_named,
)
from socwb.ingest.formats._kv import parse_key_values, value_of
from socwb.ingest.model import ParseContext, RecordError, Source

logger = logging.getLogger(__name__)

_FORTIOS_LINE = re.compile(
    r"(?:^|[\s>])(?P<pairs>date=)\d{4}-\d{2}-\d{2}\s+time=\d{1,2}:\d{2}:\d{2}\s"
)
_UI_ADDRESS = re.compile(r"\(([^()]*)\)")
"""The client address in a `ui` value such as `GUI(10.0.0.2)` or `ssh(10.0.0.2)`."""
_TZ_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_CFGATTR_ITEM = re.compile(r"(?P<name>[\w-]+)\[(?P<value>[^\]]*)\]")
_TRAFFIC_DENY_ACTIONS = frozenset({"deny", "blocked", "block", "dropped", "reset"})
_IP_PROTOCOLS = {"1": "icmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp", "58": "ipv6-icmp"}
_ANY_ADDRESS_NAMES = frozenset({"all", "any", "0.0.0.0/0", "::/0"})
"""FortiOS address objects that match every address (`all` is 0.0.0.0/0)."""


class FortiGateNormalizer(LineNormalizer):
    """FortiGate traffic, VPN, authentication and configuration log lines."""

    name: ClassVar[str] = "fortigate"
    source: ClassVar[Source] = "network"
    module: ClassVar[str] = "fortinet"
    vendor: ClassVar[str | None] = "Fortinet"
    product: ClassVar[str | None] = "FortiGate"
    timestamp_fields: ClassVar[str] = "eventtime or date and time"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is a FortiOS key-value log line."""
        line = head.split("\n", 1)[0]
        return _FORTIOS_LINE.search(line) is not None and " logid=" in line

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one FortiOS log line."""
        start = _FORTIOS_LINE.search(text)
        if start is None:
            raise RecordError("not a FortiGate log line: expected 'date=YYYY-MM-DD time=...'")
        pairs = parse_key_values(text[start.start("pairs") :])
        log_type = value_of(pairs, "type") or "unknown"
        fields: Fields = {
            "@timestamp": _timestamp(pairs, ctx),
            "event.code": value_of(pairs, "logid"),
            "event.action": value_of(pairs, "action") or log_type,
            "event.category": ["network"],
            "event.type": ["info"],
            "message": value_of(pairs, "msg") or value_of(pairs, "logdesc"),
            "log.level": value_of(pairs, "level"),
            "observer.name": value_of(pairs, "devname"),
            "observer.serial_number": value_of(pairs, "devid"),
            "observer.type": "firewall",
            "host.name": value_of(pairs, "devname"),
            "fortinet.type": log_type,
            "fortinet.subtype": value_of(pairs, "subtype"),
            "fortinet.vdom": value_of(pairs, "vd"),
        }
        _add_network(fields, pairs)
        _classify(fields, pairs, log_type)
        return fields


def _timestamp(pairs: dict[str, str], ctx: ParseContext) -> datetime | None:
    epoch = as_int(value_of(pairs, "eventtime"))
    if epoch is not None and epoch > 0:
        return parse_epoch(float(epoch))
    date, clock = value_of(pairs, "date"), value_of(pairs, "time")
    if date is None or clock is None:
        return None
    try:
        local = datetime.fromisoformat(f"{date}T{clock.zfill(8)}")
    except ValueError as exc:
        raise RecordError(f"invalid FortiGate date and time {date!r} {clock!r}") from exc
    return local.replace(tzinfo=_zone(value_of(pairs, "tz"), ctx))


def _zone(offset: str | None, ctx: ParseContext) -> tzinfo:
    match = _TZ_OFFSET.fullmatch(offset or "")
    if match is None:
        return timezone_named(ctx.default_timezone)
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


def _add_network(fields: Fields, pairs: dict[str, str]) -> None:
    remote_ip = value_of(pairs, "remip")
    fields["source.ip"] = as_ip(value_of(pairs, "srcip")) or as_ip(remote_ip)
    fields["source.port"] = as_int(value_of(pairs, "srcport"))
    fields["destination.ip"] = as_ip(value_of(pairs, "dstip"))
    fields["destination.port"] = as_int(value_of(pairs, "dstport"))
    fields["observer.ingress.interface.name"] = value_of(pairs, "srcintf")
    fields["observer.egress.interface.name"] = value_of(pairs, "dstintf")
    fields["network.transport"] = _IP_PROTOCOLS.get(value_of(pairs, "proto") or "")
    fields["source.bytes"] = as_int(value_of(pairs, "sentbyte"))
    fields["destination.bytes"] = as_int(value_of(pairs, "rcvdbyte"))
    fields["rule.id"] = value_of(pairs, "policyid")
    fields["rule.name"] = value_of(pairs, "policyname")
    fields["user.name"] = value_of(pairs, "user") or value_of(pairs, "srcuser")


def _classify(fields: Fields, pairs: dict[str, str], log_type: str) -> None:
    subtype = value_of(pairs, "subtype") or ""
    if log_type == "traffic":
        _classify_traffic(fields, value_of(pairs, "action") or "")
    elif value_of(pairs, "cfgpath") is not None:
        _classify_config(fields, pairs)
    elif subtype in ("vpn", "user") or (value_of(pairs, "logdesc") or "").startswith("Admin login"):
        _classify_login(fields, pairs, subtype)
    elif log_type in ("utm", "attack", "virus", "ips", "webfilter"):
        fields["event.category"] = ["network", "intrusion_detection"]
        blocked = (value_of(pairs, "action") or "").lower() in ("blocked", "block", "dropped")
        fields["event.type"] = ["denied"] if blocked else ["info"]
        fields["event.outcome"] = "failure" if blocked else "unknown"


def _classify_traffic(fields: Fields, action: str) -> None:
    denied = action.lower() in _TRAFFIC_DENY_ACTIONS
    fields["event.action"] = "connection-denied" if denied else "connection-allowed"
    fields["event.type"] = ["connection", "denied" if denied else "allowed"]
    fields["event.outcome"] = "failure" if denied else "success"
    fields["fortinet.action"] = action or None


def _classify_login(fields: Fields, pairs: dict[str, str], subtype: str) -> None:
    action = (value_of(pairs, "action") or "").lower()
    status = (value_of(pairs, "status") or "").lower()
    reason = value_of(pairs, "reason") or ""
    failed = "fail" in action or status in ("failure", "failed", "negotiate_error")
    is_login = failed or "login" in action or "logon" in action or action == "tunnel-up"
    if not is_login:
        return
    fields["event.category"] = ["authentication"] + (["network"] if subtype == "vpn" else [])
    fields["event.type"] = ["start"]
    fields["event.outcome"] = "failure" if failed else "success"
    fields["event.reason"] = reason or None
    prefix = "vpn-login" if subtype == "vpn" else "login"
    fields["event.action"] = f"{prefix}-failed" if failed else f"{prefix}-succeeded"
    fields["fortinet.action"] = action or None
    fields["fortinet.tunnel_type"] = value_of(pairs, "tunneltype")


def _classify_config(fields: Fields, pairs: dict[str, str]) -> None:
    """Classify a configuration change (`cfgpath`, `cfgobj`, `cfgattr`)."""
    path = value_of(pairs, "cfgpath") or ""
    changes = _parse_cfgattr(value_of(pairs, "cfgattr") or "")
    fields["event.category"] = ["configuration"]
    fields["event.type"] = ["change"]
    fields["event.action"] = "config-changed"
    fields["event.outcome"] = "success"
    fields["fortinet.cfg.path"] = path
    fields["fortinet.cfg.object"] = value_of(pairs, "cfgobj")
    fields["fortinet.cfg.attributes"] = value_of(pairs, "cfgattr")
    fields["fortinet.action"] = value_of(pairs, "action")
    interface = value_of(pairs, "ui") or ""
    fields["fortinet.ui"] = interface or None
    fields["source.ip"] = fields.get("source.ip") or _ui_address(interface)
    if path.startswith("firewall.policy"):
        fields["event.category"] = ["configuration", "network"]
        fields["event.action"] = "policy-changed"
        fields["rule.id"] = value_of(pairs, "cfgobj")
        fields["socwb.network.is_open_to_world"] = _allows_any_source(changes) or None
    elif path == "system.admin":
        _classify_admin_change(fields, pairs, changes)


def _ui_address(interface: str) -> str | None:
    match = _UI_ADDRESS.search(interface)
    return as_ip(match.group(1)) if match else None


def _parse_cfgattr(text: str) -> dict[str, str]:
    """Return each changed attribute with its new value (`action[deny->accept]` gives accept)."""
    return {
        match["name"]: match["value"].rsplit("->", 1)[-1] for match in _CFGATTR_ITEM.finditer(text)
    }


def _allows_any_source(changes: dict[str, str]) -> bool:
    """Return whether a policy change leaves an accept rule whose source is any address.

    NOTE: `cfgattr` lists only the changed attributes. A change that sets the source
    to `all` without naming the action is treated as open, because the log line does
    not say whether the policy accepts or denies.
    """
    sources = {
        name.strip().strip('"')
        for key in ("srcaddr", "srcaddr6")
        for name in changes.get(key, "").split()
    }
    action = changes.get("action", "accept")
    return bool(sources & _ANY_ADDRESS_NAMES) and action == "accept"


def _classify_admin_change(fields: Fields, pairs: dict[str, str], changes: dict[str, str]) -> None:
    action = (value_of(pairs, "action") or "").lower()
    profile = changes.get("accprofile")
    fields["event.category"] = ["iam", "configuration"]
    kind, verb = {"add": ("creation", "created"), "delete": ("deletion", "deleted")}.get(
        action, ("change", "changed")
    )
    fields["event.type"] = ["user", kind]
    fields["event.action"] = f"admin-account-{verb}"
    fields["user.target.name"] = value_of(pairs, "cfgobj")
    fields["socwb.iam.permission"] = profile
    if is_admin_role(profile) and action != "delete":
        fields["event.type"].append("admin")
        fields["socwb.iam.is_escalation"] = True
