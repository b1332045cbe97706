"""The `socwb report` command: the monthly alert-handling figures as HTML, CSV or JSON."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from socwb.reporting import ReportMonth, export, format_duration, format_rate, monthly_figures
from socwb.search import create_backend
from socwb.settings import Settings
from socwb.tuning import SuppressionStore

logger = logging.getLogger(__name__)

FORMATS = ("html", "csv", "json")


@click.command("report")
@click.option("--month", required=True, help="Month to report, as YYYY-MM.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="File to write.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format; taken from the --out suffix when omitted, else html.",
)
@click.pass_context
def report(context: click.Context, month: str, out_path: Path, output_format: str | None) -> None:
    """Write the month's figures: alerts, false-positive rate, time to acknowledge, due times.

    The month runs from midnight to midnight in SOCWB_ORGANISATION__TIMEZONE.
    Canary and self-test alerts are left out.
    """
    settings: Settings = context.obj
    try:
        report_month = ReportMonth.parse(month, settings.organisation.zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc
    chosen = output_format or _format_from_suffix(out_path)

    as_of = datetime.now(UTC)
    namespace = settings.search.namespace
    backend = create_backend(settings.search)
    try:
        changes = SuppressionStore(backend, namespace).monthly_review(report_month, as_of)
        figures = monthly_figures(
            backend, namespace, report_month, as_of=as_of, tuning_changes=changes
        )
    finally:
        backend.close()

    out_path.write_text(export(figures, chosen), encoding="utf-8")
    logger.info("report written month=%s format=%s path=%s", report_month.label, chosen, out_path)
    click.echo(
        f"{report_month.label}: {figures.total_alerts} alerts, false-positive rate "
        f"{format_rate(figures.false_positive_rate)}, mean time to acknowledge "
        f"{format_duration(figures.mean_time_to_acknowledge)}; wrote {chosen} to {out_path}"
    )


def _format_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "html"
