"""The `socwb ledger` command: the coverage ledger of the detection rules as CSV or JSON."""

from __future__ import annotations

import click

from socwb.ledger import STATUS_OPEN_GAP, count_by_status, coverage_ledger, to_csv, to_json
from socwb.period import Period
from socwb.search import create_backend
from socwb.settings import Settings


def parse_period(settings: Settings, first: str, last: str) -> Period:
    """Parse `--from` and `--to` days in the organisation's time zone, as a usage error."""
    try:
        return Period.parse(first, last, settings.organisation.zone)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@click.command("ledger")
@click.option("--from", "first", required=True, help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last day of the period (included), YYYY-MM-DD.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="CSV: one row per rule and day. JSON: the same with each range and gap as an object.",
)
@click.pass_context
def ledger(context: click.Context, first: str, last: str, output_format: str) -> None:
    """Print per rule and day the arrival ranges searched, the gaps, and which were caught up.

    Days run from midnight to midnight in SOCWB_ORGANISATION__TIMEZONE. Exit status
    is 1 when any gap is still open.
    """
    settings: Settings = context.obj
    period = parse_period(settings, first, last)
    backend = create_backend(settings.search)
    try:
        days = coverage_ledger(backend, settings.search.namespace, period)
    finally:
        backend.close()
    click.echo(to_csv(days) if output_format == "csv" else to_json(days), nl=False)
    counts = count_by_status(days)
    click.echo(
        ", ".join(f"{status}: {count} rule-days" for status, count in counts.items()), err=True
    )
    if counts[STATUS_OPEN_GAP]:
        context.exit(1)
