"""Typed settings of the notification channels and the dispatcher.

This module imports nothing that reaches the search engine, so `socwb.settings` can
nest `NotificationSettings` as one of its sections. URLs, routing keys and passwords
are `SecretStr`, so a repr or a JSON dump of the settings masks them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from socwb.rules.model import Severity

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class _ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Channel name.")
    timeout: float = Field(default=10.0, gt=0, le=120, description="Request timeout, seconds.")


class _HttpChannelConfig(_ChannelConfig):
    url: SecretStr = Field(description="Endpoint URL; secret because its path contains a token.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: SecretStr) -> SecretStr:
        parts = urlsplit(url.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("use an http:// or https:// URL with a host name")
        return url


class WebhookChannelConfig(_HttpChannelConfig):
    """A generic JSON webhook: the message's fields as one JSON object."""

    kind: Literal["webhook"] = "webhook"


class SlackChannelConfig(_HttpChannelConfig):
    """A Slack incoming webhook (`text` plus Block Kit sections)."""

    kind: Literal["slack"] = "slack"


class TeamsChannelConfig(_HttpChannelConfig):
    """A Microsoft Teams incoming webhook or Workflows URL, sent an Adaptive Card."""

    kind: Literal["teams"] = "teams"


class PagerDutyChannelConfig(_ChannelConfig):
    """The PagerDuty Events API v2; the alert id is the `dedup_key`."""

    kind: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretStr = Field(description="Integration key of the PagerDuty service.")
    url: SecretStr = Field(
        default=SecretStr(PAGERDUTY_EVENTS_URL), description="Events API v2 endpoint."
    )


class SmtpChannelConfig(_ChannelConfig):
    """Email through an SMTP server, optionally with STARTTLS and a login."""

    kind: Literal["smtp"] = "smtp"
    host: str = Field(min_length=1, description="SMTP server host name or address.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    sender: str = Field(min_length=3, description="From address.")
    recipients: list[str] = Field(min_length=1, description="To addresses.")
    username: str | None = Field(default=None, description="Login user; no login when None.")
    password: SecretStr | None = Field(default=None, description="Login password.")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")

    @model_validator(mode="after")
    def _check_login(self) -> SmtpChannelConfig:
        if self.username is not None and self.password is None:
            raise ValueError(
                f"SMTP channel {self.name!r} has a login without its password: "
                "set password, or remove username to send without a login"
            )
        return self


ChannelConfig = Annotated[
    WebhookChannelConfig
    | SlackChannelConfig
    | TeamsChannelConfig
    | PagerDutyChannelConfig
    | SmtpChannelConfig,
    Field(discriminator="kind"),
]
"""One channel's configuration; `kind` selects the type."""


class NotificationSettings(BaseModel):
    """Channels and rules of the notification dispatcher."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workbench_url: str = Field(
        default="http://localhost:8501",
        pattern=r"^https?://\S+$",
        description="Base URL of the workbench, for the link to each alert.",
    )
    min_severity: Severity = Field(
        default=Severity.HIGH, description="Lowest severity that is notified and escalated."
    )
    channels: list[ChannelConfig] = Field(
        default_factory=list, description="Every configured channel, by unique name."
    )
    notify_channels: list[str] = Field(
        default_factory=list, description="Channel names that receive new alerts."
    )
    escalation_channels: list[str] = Field(
        default_factory=list, description="Channel names that receive escalations."
    )
    escalate_after: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of the response time after which an open alert escalates.",
    )
    lookback: timedelta = Field(
        default=timedelta(hours=24),
        gt=timedelta(0),
        description="Alerts created this long before the cycle are considered.",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts per delivery within one cycle."
    )
    max_rounds: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Cycles that try a delivery whose earlier attempts all failed, in all.",
    )
    backoff_initial: float = Field(
        default=1.0, ge=0, le=60, description="Delay before the second attempt, in seconds."
    )
    backoff_max: float = Field(
        default=30.0, ge=0, le=600, description="Upper bound of one retry delay, in seconds."
    )

    @model_validator(mode="after")
    def _check_channel_names(self) -> NotificationSettings:
        names = [channel.name for channel in self.channels]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique: {', '.join(duplicates)}")
        for listed in (self.notify_channels, self.escalation_channels):
            unknown = sorted(set(listed) - set(names))
            if unknown:
                raise ValueError(
                    f"unknown channel {', '.join(unknown)}: configure it under channels "
                    f"(configured: {', '.join(names) or 'none'})"
                )
        return self
