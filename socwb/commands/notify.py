"""The `socwb notify` commands: deliver notifications for the alerts of the namespace."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
from pydantic import ValidationError

from socwb.errors import ConfigurationError
from socwb.notify.config import NotificationSettings
from socwb.notify.dispatcher import Dispatcher
from socwb.search import create_backend
from socwb.settings import Settings

logger = logging.getLogger(__name__)


def load_notification_settings(path: Path) -> NotificationSettings:
    """Read the notification settings from a JSON file.

    Raises:
        ConfigurationError: The file is missing, is not JSON or has an invalid field.
            The message names the field but never shows a URL, key or password.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read notification settings {path}: {exc}") from None
    try:
        return NotificationSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"invalid notification settings in {path}: {problems}") from None


@click.group("notify")
def notify() -> None:
    """Send alert notifications and escalations to the configured channels."""


@notify.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSON file with the notification settings (channels, threshold, escalation).",
)
@click.pass_context
def run(context: click.Context, config_path: Path) -> None:
    """Run one dispatch cycle: notify new alerts, escalate, mark breaches.

    Exit status is 1 when any delivery failed after its retries.
    """
    # TODO: read the settings from Settings.notifications once settings.py defines it;
    # the JSON file keeps webhook URLs and passwords out of the process environment.
    settings: Settings = context.obj
    notification_settings = load_notification_settings(config_path)
    backend = create_backend(settings.search)
    try:
        dispatcher = Dispatcher(backend, settings.search.namespace, notification_settings)
        report = dispatcher.run_cycle()
    finally:
        backend.close()
    click.echo(
        f"delivered {report.delivered}, escalated {report.escalated}, "
        f"skipped {report.skipped}, breached {report.breached}, "
        f"failed {len(report.failed)}"
    )
    for failure in report.failed:
        click.echo(f"failed: {failure}", err=True)
    if report.failed:
        context.exit(1)


__all__ = ["notify", "load_notification_settings"]
