"""Cisco ASA syslog messages (`%ASA-level-id: text`).

Lines may carry a syslog header, an ASA `logging timestamp` prefix
(`Sep 20 2017 13:44:00 asa01 :`), or nothing. Lines without any timestamp need
`ParseContext.fallback_time` or are rejected.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip, timezone_named
from socwb.ingest.model import ParseContext, RecordError, Source
from socwb.ingest.syslog import parse_syslog

logger = logging.getLogger(__name__)

_MESSAGE = re.compile(r"%(?P<product>ASA|FTD|PIX)-(?P<level>\d)-(?P<id>\d{6}):?\s*(?P<text>.*)$")
_ASA_TIME = re.compile(
    r"^(?P<ts>[A-Z][a-z]{2} \d{1,2} \d{4} \d{2}:\d{2}:\d{2})\s+(?:(?P<host>[^\s:]+)\s*)?:?\s*%"
)
_FROM = re.compile(
    r"(?:\bfrom|\bsrc|\bladdr|Built \w+ \w+ connection \d+ for)\s+(?:(?P<iface>[\w-]+):)?"
    r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3})(?:/(?P<port>\d+))?"
)
_TO = re.compile(
    r"(?:\bto|\bdst)\s+(?:(?P<iface>[\w-]+):)?(?P<ip>\d{1,3}(?:\.\d{1,3}){3})(?:/(?P<port>\d+))?"
)
_TRANSPORT = re.compile(r"\b(TCP|UDP|ICMP|GRE|tcp|udp|icmp)\b")
_USER = re.compile(r"(?:Uname: |[Uu]ser = |user \"|User ')(?P<user>[^\s\"':,]+)")
_PRIVILEGE_CHANGE = re.compile(r"From: (?P<old>\d+) To: (?P<new>\d+)")
_DENY_IDS = frozenset(
    {
        "106001",
        "106006",
        "106010",
        "106014",
        "106015",
        "106017",
        "106020",
        "106021",
        "106022",
        "106023",
        "106100",
        "710003",
        "313004",
        "418001",
        "500004",
        "304002",
    }
)
_AUTH: dict[str, tuple[str, str]] = {
    "113004": ("aaa-authentication-succeeded", "success"),
    "113005": ("aaa-authentication-rejected", "failure"),
    "113006": ("user-locked-out", "failure"),
    "605004": ("login-denied", "failure"),
    "605005": ("login-permitted", "success"),
    "611103": ("user-logged-out", "success"),
    "308001": ("enable-password-incorrect", "failure"),
}
_IAM: dict[str, tuple[str, list[str]]] = {
    "502101": ("user-added", ["user", "creation"]),
    "502102": ("user-deleted", ["user", "deletion"]),
    "502103": ("user-privilege-changed", ["user", "change"]),
}
_ADMIN_PRIVILEGE_LEVEL = 15
"""ASA privilege level 15 is full administrator access."""


class CiscoAsaNormalizer(LineNormalizer):
    """Cisco ASA and Firepower Threat Defense syslog messages."""

    name: ClassVar[str] = "cisco_asa"
    source: ClassVar[Source] = "network"
    module: ClassVar[str] = "cisco_asa"
    vendor: ClassVar[str | None] = "Cisco"
    product: ClassVar[str | None] = "ASA"
    timestamp_fields: ClassVar[str] = "syslog header or ASA timestamp"

    def sniff(self, head: str) -> bool:
        """Return whether the first line contains an `%ASA-` message."""
        return bool(_MESSAGE.search(head.split("\n", 1)[0]))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one ASA message."""
        match = _MESSAGE.search(text)
        if match is None:
            raise RecordError("not a Cisco ASA message: expected '%ASA-<level>-<id>: text'")
        message_id = match["id"]
        body = match["text"]
        fields: Fields = {
            "@timestamp": _timestamp(text[: match.start()], ctx),
            "event.code": message_id,
            "event.action": f"asa-{message_id}",
            "event.category": ["network"],
            "event.type": ["info"],
            "event.severity": int(match["level"]),
            "message": body,
            "observer.type": "firewall",
        }
        _add_addresses(fields, body)
        _classify(fields, message_id, body)
        return fields


def _timestamp(prefix: str, ctx: ParseContext) -> datetime | None:
    if not prefix.strip():
        return None
    asa_time = _ASA_TIME.match(prefix + "%")
    if asa_time:
        zone = timezone_named(ctx.default_timezone)
        return datetime.strptime(asa_time["ts"], "%b %d %Y %H:%M:%S").replace(tzinfo=zone)
    return parse_syslog(prefix + "%", ctx).timestamp


def _add_addresses(fields: Fields, body: str) -> None:
    source = _FROM.search(body)
    destination = _TO.search(body, source.end() if source else 0)
    if source:
        fields["source.ip"] = as_ip(source["ip"])
        fields["source.port"] = int(source["port"]) if source["port"] else None
        fields["observer.ingress.interface.name"] = source["iface"]
    if destination:
        fields["destination.ip"] = as_ip(destination["ip"])
        fields["destination.port"] = int(destination["port"]) if destination["port"] else None
        fields["observer.egress.interface.name"] = destination["iface"]
    transport = _TRANSPORT.search(body)
    if transport:
        fields["network.transport"] = transport.group(1).lower()
    user = _USER.search(body)
    if user:
        fields["user.name"] = user["user"]


def _classify(fields: Fields, message_id: str, body: str) -> None:
    if message_id in _DENY_IDS or body.startswith(("Deny", "Denied")):
        fields["event.type"] = ["connection", "denied"]
        fields["event.action"] = "connection-denied"
        fields["event.outcome"] = "failure"
    elif message_id in _AUTH:
        action, outcome = _AUTH[message_id]
        fields["event.category"] = ["authentication"]
        fields["event.type"] = ["start"] if message_id != "611103" else ["end"]
        fields["event.action"] = action
        fields["event.outcome"] = outcome
    elif message_id in _IAM:
        _classify_iam(fields, message_id, body)
    elif message_id in ("111008", "111009", "111010"):
        fields["event.category"] = ["configuration"]
        fields["event.type"] = ["change"]
        fields["event.action"] = "command-executed"
        _classify_rule_command(fields, body)
    elif message_id.startswith("302"):
        built = body.startswith("Built")
        fields["event.type"] = ["connection", "start" if built else "end"]
        fields["event.action"] = "connection-built" if built else "connection-teardown"


# Commands that change what traffic the firewall lets through.
_RULE_COMMAND = re.compile(
    r"executed(?: the)? '(?P<command>(?:no )?(?:access-list|access-group|object-group)\b[^']*)'"
)
# An ACE whose source is any address: `permit <protocol> any ...` (any, any4, any6).
_OPEN_SOURCE = re.compile(r"\bpermit \S+ (?:any[46]?|0\.0\.0\.0 0\.0\.0\.0)\b")


def _classify_rule_command(fields: Fields, body: str) -> None:
    """Mark access-list and object-group commands as firewall rule changes."""
    match = _RULE_COMMAND.search(body)
    if match is None:
        return
    command = match["command"]
    fields["event.category"] = ["configuration", "network"]
    fields["event.action"] = "firewall-rule-changed"
    words = command.split()
    name_position = 2 if words[0] == "no" else 1
    if len(words) > name_position:
        fields["rule.name"] = words[name_position]
    if not command.startswith("no ") and _OPEN_SOURCE.search(command):
        fields["socwb.network.is_open_to_world"] = True


def _classify_iam(fields: Fields, message_id: str, body: str) -> None:
    action, types = _IAM[message_id]
    fields["event.category"] = ["iam"]
    fields["event.type"] = list(types)
    fields["event.action"] = action
    fields["event.outcome"] = "success"
    fields["user.target.name"] = fields.pop("user.name", None)
    change = _PRIVILEGE_CHANGE.search(body)
    if change:
        fields["socwb.iam.permission"] = f"privilege level {change['new']}"
        if int(change["new"]) >= _ADMIN_PRIVILEGE_LEVEL > int(change["old"]):
            fields["event.type"].append("admin")
            fields["socwb.iam.is_escalation"] = True
