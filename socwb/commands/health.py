"""The `socwb health` command: print the health view and exit 1 on findings."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import click

from socwb.health import check_health, format_health
from socwb.settings import Settings

logger = logging.getLogger(__name__)


@click.command("health")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.pass_context
def health(context: click.Context, output_format: str) -> None:
    """Show engine reachability, each rule's last run, degraded monitoring, stuck or failed
    retention and dead letters of the namespace.

    Each request waits at most 5 s and is not retried, so the command responds
    during an outage. Exit status is 1 when there are findings.
    """
    settings: Settings = context.obj
    report = check_health(settings.search, datetime.now(UTC))
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(format_health(report))
    if report.findings:
        context.exit(1)
