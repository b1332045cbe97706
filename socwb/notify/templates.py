"""Notification text: the content of a message about an alert, built from the alert document only.

A message carries the rule, severity, entity, due time and a link to the alert in the
workbench. It never carries evidence, sample events, the stored query or any channel
setting, so a raw event (`event.original`) or a secret cannot reach a receiver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from socwb.alerts.model import Alert
from socwb.rules.model import Severity, iso

MAX_VALUE_LENGTH = 200
ALERT_PAGE = "Alert_detail"
"""Streamlit page path of `app/pages/2_Alert_detail.py`; it reads the `alert` query parameter."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")


class Notification(StrEnum):
    """The reason a message is sent."""

    NEW = "new"
    ESCALATION = "escalation"


@dataclass(frozen=True)
class Message:
    """One notification about one alert, ready for any channel.

    Attributes:
        subject: One line, used as email subject and card title.
        text: Plain-text body with one fact per line.
        facts: (label, value) pairs shown by chat and card channels.
        created_at: The alert's creation time, ISO 8601 UTC.
        due_at: The alert's due time, ISO 8601 UTC.
    """

    notification: Notification
    alert_id: str
    rule_id: str
    rule_name: str
    severity: Severity
    entity: str
    created_at: str
    due_at: str
    link: str
    subject: str
    text: str
    facts: tuple[tuple[str, str], ...]


def clean(value: str) -> str:
    """Return a value on one line, without control characters, cut to `MAX_VALUE_LENGTH`."""
    flat = _CONTROL_CHARACTERS.sub(" ", value).strip()
    if len(flat) > MAX_VALUE_LENGTH:
        return flat[: MAX_VALUE_LENGTH - 1] + "…"
    return flat


def alert_link(workbench_url: str, alert_id: str) -> str:
    """Return the workbench URL of an alert's detail page."""
    return f"{workbench_url.rstrip('/')}/{ALERT_PAGE}?alert={quote(alert_id, safe='')}"


def build_message(
    alert: Alert,
    notification: Notification,
    *,
    workbench_url: str,
    now: datetime | None = None,
) -> Message:
    """Build the message about an alert.

    Args:
        alert: The alert; only its rule, severity, entity, times and id are used.
        notification: A new alert, or an escalation of an unacknowledged one.
        workbench_url: Base URL of the workbench, e.g. `https://soc.example.org`.
        now: Time of an escalation, to state how long the alert has waited.
    """
    rule_name = clean(alert.rule_name)
    entity = clean(alert.entity_key) or "-"
    link = alert_link(workbench_url, alert.id)
    facts = [
        ("Rule", f"{rule_name} ({alert.rule_id})"),
        ("Severity", alert.severity.value),
        ("Entity", entity),
        ("Created", iso(alert.created_at)),
        ("Due", iso(alert.due_at)),
    ]
    prefix = f"[{alert.severity.value}]"
    if notification == Notification.ESCALATION:
        prefix = f"ESCALATION {prefix}"
        facts.append(("Status", f"{alert.status.value}, not acknowledged"))
        if now is not None:
            waited = int((now - alert.created_at).total_seconds() // 60)
            facts.append(("Waiting", f"{waited} min since creation"))
    facts.append(("Link", link))
    subject = f"{prefix} {rule_name}: {entity}"
    text = "\n".join([subject, "", *(f"{label}: {value}" for label, value in facts)]) + "\n"
    return Message(
        notification=notification,
        alert_id=alert.id,
        rule_id=alert.rule_id,
        rule_name=rule_name,
        severity=alert.severity,
        entity=entity,
        created_at=iso(alert.created_at),
        due_at=iso(alert.due_at),
        link=link,
        subject=clean(subject),
        text=text,
        facts=tuple(facts),
    )
