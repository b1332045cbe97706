"""Notification channels: their payloads and the one request each sends.

Their settings are in `socwb.notify.config`.

Every HTTP channel posts to the URL it is configured with and nowhere else: redirects
are not followed and proxy variables of the environment are ignored. Webhook URLs,
routing keys and SMTP passwords are secrets. They never appear in a log line, an error
message or a repr; `redact_url` shows only the scheme, host and port of a URL.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

from socwb.errors import WorkbenchError
from socwb.notify.config import (
    ChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
    SmtpChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
)
from socwb.notify.templates import Message
from socwb.rules.model import Severity

logger = logging.getLogger(__name__)

RETRYABLE_HTTP_STATUSES = frozenset({408, 425, 429})
"""Client errors worth retrying; every 5xx status is retried as well."""

PAGERDUTY_SEVERITIES: Mapping[Severity, str] = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "info",
}
"""Our severities as the PagerDuty Events API v2 `payload.severity` values."""


class DeliveryError(WorkbenchError):
    """One delivery attempt failed; the message contains no URL path, token or password.

    Attributes:
        is_retryable: Whether a later attempt may succeed (5xx, 429, timeouts,
            refused connections, SMTP 4xx replies).
    """

    def __init__(self, message: str, *, is_retryable: bool) -> None:
        super().__init__(message)
        self.is_retryable = is_retryable


def redact_url(url: str) -> str:
    """Return a URL with its path, query and credentials hidden, for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


class Channel(Protocol):
    """Something that sends one message per call and raises `DeliveryError` on failure."""

    @property
    def name(self) -> str:
        """The configured channel name, used in logs and delivery records."""
        ...

    def send(self, message: Message) -> None:
        """Send one message once, without retrying."""
        ...


# Payloads ---------------------------------------------------------------------------------


def webhook_payload(message: Message) -> dict[str, Any]:
    """Return the generic webhook body: the message's fields as a flat JSON object."""
    return {
        "notification": message.notification,
        "alert_id": message.alert_id,
        "title": message.subject,
        "rule_id": message.rule_id,
        "rule_name": message.rule_name,
        "severity": message.severity.value,
        "entity": message.entity,
        "created_at": message.created_at,
        "due_at": message.due_at,
        "link": message.link,
        "text": message.text,
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats <...> as links and mentions such as <!channel>.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: Message) -> dict[str, Any]:
    """Return a Slack incoming-webhook body with a fallback `text` and Block Kit sections."""
    lines = [f"*{_slack_escape(label)}:* {_slack_escape(value)}" for label, value in message.facts]
    return {
        "text": _slack_escape(message.subject),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(message.subject)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{message.link}|Open alert>"}},
        ],
    }


def teams_payload(message: Message) -> dict[str, Any]:
    """Return a Teams message with one Adaptive Card (schema version 1.4)."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.subject, "weight": "Bolder", "wrap": True},
            {
                "type": "FactSet",
                "facts": [{"title": label, "value": value} for label, value in message.facts],
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open alert", "url": message.link}],
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
    return {"type": "message", "attachments": [attachment]}


def pagerduty_payload(message: Message, routing_key: str) -> dict[str, Any]:
    """Return a PagerDuty Events API v2 `trigger` event; the alert id de-duplicates it."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": message.alert_id,
        "payload": {
            "summary": message.subject[:1024],
            "source": "soc-workbench",
            "severity": PAGERDUTY_SEVERITIES[message.severity],
            "timestamp": message.created_at,
            "component": message.rule_id,
            "custom_details": dict(message.facts),
        },
        "links": [{"href": message.link, "text": "Open alert in the workbench"}],
    }


def email_message(message: Message, sender: str, recipients: list[str]) -> EmailMessage:
    """Return a plain-text email of a message."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email.set_content(message.text)
    return email


# Sending ----------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turns a redirect into an HTTPError, so a request never leaves the configured URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def post_json(url: str, payload: Mapping[str, Any], *, timeout: float) -> int:
    """POST a JSON body to exactly `url` and return the HTTP status (2xx only).

    Raises:
        DeliveryError: The connection failed, timed out or the status was not 2xx.
            The message names only the scheme, host and port of the URL.
    """
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    target = redact_url(url)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # The error wraps the open response; closing it releases the socket.
        retryable = exc.code >= 500 or exc.code in RETRYABLE_HTTP_STATUSES
        raise DeliveryError(f"{target} returned HTTP {exc.code}", is_retryable=retryable) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(
            f"{target} could not be reached: {_reason(exc.reason)}", is_retryable=True
        ) from None
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(f"{target} failed: {_reason(exc)}", is_retryable=True) from None


def _reason(error: object) -> str:
    """Describe a socket-level error by its class and message, which never contain the URL."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}".rstrip(": ")
    return str(error)


class HttpChannel:
    """A webhook-style channel: builds its payload and posts it to its URL."""

    def __init__(
        self, config: WebhookChannelConfig | SlackChannelConfig | TeamsChannelConfig
    ) -> None:
        self.config = config

    @property
    def name(self) -> str:
        """The configured channel name."""
        return self.config.name

    def send(self, message: Message) -> None:
        """Post the message once.

        Raises:
            DeliveryError: The post failed.
        """
        builders = {"webhook": webhook_payload, "slack": slack_payload, "teams": teams_payload}
        payload = builders[self.config.kind](message)
        post_json(self.config.url.get_secret_value(), payload, timeout=self.config.timeout)


class PagerDutyChannel:
    """Triggers a PagerDuty incident through the Events API v2."""

    def __init__(self, config: PagerDutyChannelConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        """The configured channel name."""
        return self.config.name

    def send(self, message: Message) -> None:
        """Post one trigger event; PagerDuty responds with 202 when it accepts it.

        Raises:
            DeliveryError: The post failed.
        """
        payload = pagerduty_payload(message, self.config.routing_key.get_secret_value())
        post_json(self.config.url.get_secret_value(), payload, timeout=self.config.timeout)


class SmtpChannel:
    """Sends a plain-text email through one SMTP server."""

    def __init__(self, config: SmtpChannelConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        """The configured channel name."""
        return self.config.name

    def send(self, message: Message) -> None:
        """Send one email.

        Raises:
            DeliveryError: Connecting, STARTTLS, login or the transaction failed.
                4xx replies and connection failures are retryable; 5xx replies are not.
        """
        config = self.config
        email = email_message(message, config.sender, config.recipients)
        server = f"{config.host}:{config.port}"
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as client:
                self._start_session(client)
                client.send_message(email)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP server {server} replied {exc.smtp_code}", is_retryable=exc.smtp_code < 500
            ) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError(
                f"SMTP server {server} rejected every recipient; check the addresses",
                is_retryable=False,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"SMTP server {server} failed: {_reason(exc)}", is_retryable=True
            ) from None

    def _start_session(self, client: smtplib.SMTP) -> None:
        client.ehlo()
        if self.config.starttls:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if self.config.username is not None and self.config.password is not None:
            client.login(self.config.username, self.config.password.get_secret_value())


def build_channel(config: ChannelConfig) -> Channel:
    """Return the channel object for one channel configuration."""
    if isinstance(config, SmtpChannelConfig):
        return SmtpChannel(config)
    if isinstance(config, PagerDutyChannelConfig):
        return PagerDutyChannel(config)
    return HttpChannel(config)
