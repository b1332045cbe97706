"""The `socwb generate` command: write a seeded demo data set with planted scenarios."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

logger = logging.getLogger(__name__)


@click.command("generate")
@click.option(
    "--out",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the logs and manifest.json to (created if missing).",
)
@click.option("--seed", default=7, show_default=True, help="Seed of every random choice.")
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of days; scenarios need at least 21.",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True, max=1000),
    help="Factor on the number of background events.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First day (YYYY-MM-DD); default: DAYS days before today (UTC).",
)
@click.option(
    "--timezone",
    default="Europe/Berlin",
    show_default=True,
    help="IANA time zone of working hours and of local log times.",
)
def generate(
    output_dir: Path,
    seed: int,
    days: int,
    scale: float,
    start: datetime | None,
    timezone: str,
) -> None:
    """Write realistic vendor logs of many sources with planted attack scenarios.

    The same options, including --start, give byte-identical files.
    """
    from socwb.demo import generate as generate_data

    first_day = start or datetime.now(UTC) - timedelta(days=days)
    try:
        manifest = generate_data(
            output_dir, seed=seed, start=first_day, days=days, scale=scale, timezone=timezone
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"files:     {len(manifest.files)}")
    click.echo(f"events:    {manifest.total_events}")
    click.echo(f"scenarios: {len(manifest.scenarios)}")
    click.echo(f"period:    {manifest.start:%Y-%m-%d %H:%M} to {manifest.end:%Y-%m-%d %H:%M} UTC")
    click.echo(f"manifest:  {output_dir / 'manifest.json'}")
