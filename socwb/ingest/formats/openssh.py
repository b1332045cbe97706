"""OpenSSH sshd messages from syslog (auth.log / secure).

Only `Failed ...` and `Accepted ...` lines are authentication attempts
(`event.type: start`). The PAM and `Invalid user` lines that accompany a failed
attempt are `event.type: info`, so counting attempts does not count them twice.
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from socwb.ingest.formats._base import LineNormalizer
from socwb.ingest.formats._fields import Fields, as_ip
from socwb.ingest.model import ParseContext, Source
from socwb.ingest.syslog import parse_syslog

logger = logging.getLogger(__name__)

_ATTEMPT = re.compile(
    r"(?P<result>Failed|Accepted) (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) "
    r"from (?P<ip>\S+) port (?P<port>\d+)"
)
_INVALID_USER = re.compile(r"^Invalid user (?P<user>.*?) from (?P<ip>\S+)")
_PAM_FAILURE = re.compile(
    r"authentication failures?;.*?rhost=(?P<rhost>\S*)(?:\s+user=(?P<user>\S+))?"
)
_REVERSE = re.compile(r"reverse mapping checking getaddrinfo for (?P<host>\S+) \[(?P<ip>[^\]]+)\]")
_DISCONNECT = re.compile(
    r"(?:Received disconnect|Connection closed|Disconnected) (?:from|by) (?P<ip>[^\s:]+)"
)
_SESSION = re.compile(r"session (?P<state>opened|closed) for user (?P<user>\S+)")
_NO_IDENT = re.compile(r"Did not receive identification string from (?P<ip>\S+)")


class OpenSshNormalizer(LineNormalizer):
    """sshd syslog lines. RFC 3164 lines need `ParseContext.default_year`."""

    name: ClassVar[str] = "openssh"
    source: ClassVar[Source] = "network"
    module: ClassVar[str] = "openssh"
    vendor: ClassVar[str | None] = "OpenBSD"
    product: ClassVar[str | None] = "OpenSSH"

    def sniff(self, head: str) -> bool:
        """Return whether the first line is an sshd syslog line."""
        return bool(re.match(r"^\S+\s+\d+\s+[\d:]+\s+\S+\s+sshd\[\d+\]:", head))

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one sshd line."""
        header = parse_syslog(text, ctx)
        message = header.message.removeprefix("error: ")
        repeated = re.match(r"message repeated (\d+) times: \[ (.*)\]$", message)
        fields: Fields = {
            "@timestamp": header.timestamp,
            "host.name": header.hostname,
            "process.name": header.app_name,
            "process.pid": header.process_id,
            "message": header.message,
            "event.action": "log",
            "event.category": ["authentication"],
            "event.type": ["info"],
        }
        if repeated:
            message = repeated.group(2)
            fields["event.count"] = int(repeated.group(1))
        _classify(fields, message)
        return fields


def _classify(fields: Fields, message: str) -> None:
    attempt = _ATTEMPT.search(message)
    if attempt:
        accepted = attempt["result"] == "Accepted"
        fields.update(
            {
                "event.action": "ssh-login-succeeded" if accepted else "ssh-login-failed",
                "event.type": ["start"],
                "event.outcome": "success" if accepted else "failure",
                "user.name": attempt["user"].strip() or None,
                "source.ip": as_ip(attempt["ip"]),
                "source.port": int(attempt["port"]),
                "socwb.auth.method": attempt["method"],
            }
        )
        return
    for pattern, action, outcome in (
        (_INVALID_USER, "ssh-invalid-user", "failure"),
        (_PAM_FAILURE, "pam-authentication-failure", "failure"),
        (_REVERSE, "reverse-mapping-failed", "unknown"),
        (_DISCONNECT, "ssh-disconnected", "unknown"),
        (_SESSION, "ssh-session", "success"),
        (_NO_IDENT, "ssh-no-identification", "failure"),
    ):
        match = pattern.search(message)
        if match is None:
            continue
        groups = match.groupdict()
        fields["event.action"] = action
        fields["event.outcome"] = outcome
        fields["user.name"] = (groups.get("user") or "").strip() or None
        fields["source.ip"] = as_ip(groups.get("ip") or groups.get("rhost"))
        if groups.get("host"):
            fields["source.domain"] = groups["host"]
        if action == "ssh-session":
            fields["event.category"] = ["authentication", "session"]
            fields["event.type"] = ["start" if groups["state"] == "opened" else "end"]
            fields["event.action"] = f"ssh-session-{groups['state']}"
        elif action == "ssh-disconnected":
            fields["event.category"] = ["network"]
            fields["event.type"] = ["end", "connection"]
        return
