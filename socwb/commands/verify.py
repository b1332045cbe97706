"""The `socwb verify` command: check the integrity ledger and the log indices it covers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from socwb import integrity
from socwb.catalogue import load_catalogue
from socwb.integrity import VerificationReport
from socwb.search import create_backend
from socwb.settings import Settings

logger = logging.getLogger(__name__)


def format_report_table(report: VerificationReport) -> str:
    """Render a report as a short summary followed by one line per finding."""
    lines = [
        f"namespace:        {report.namespace}",
        f"checked at:       {report.checked_at.isoformat()}",
        f"ledger entries:   {report.ledger_entries}",
        f"head hash:        {report.head_hash}",
        f"indices checked:  {report.indices_checked}",
        f"findings:         {len(report.findings)}",
    ]
    if report.findings:
        lines.append("")
        lines.append(f"{'KIND':<14} {'INDEX':<50} MESSAGE")
        for finding in report.findings:
            lines.append(f"{finding.kind:<14} {finding.index or '-':<50} {finding.message}")
    return "\n".join(lines)


@click.command("verify")
@click.option("--record", is_flag=True, help="Record a new digest of every log index first.")
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the ledger to this file as JSON lines, and its SHA-256 to FILE.sha256.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format of the report.",
)
def verify(record: bool, export_path: Path | None, output_format: str) -> None:
    """Check that no log document changed and no log index was deleted before its retention.

    Exit status is 1 when any finding exists: changed content, an index deleted
    early, or a broken ledger chain.
    """
    context = click.get_current_context()
    settings: Settings = context.obj
    namespace = settings.search.namespace
    now = datetime.now(UTC)
    backend = create_backend(settings.search)
    try:
        if record:
            written = integrity.record_digests(backend, namespace, now)
            click.echo(f"recorded {len(written)} ledger entries", err=True)
        report = integrity.verify(backend, namespace, load_catalogue(), now)
        if export_path is not None:
            exported = integrity.export_ledger(backend, namespace, export_path)
            click.echo(
                f"exported {exported.entries} entries to {exported.path} "
                f"(sha256 {exported.sha256}, in {exported.checksum_path})",
                err=True,
            )
    finally:
        backend.close()
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(format_report_table(report))
    if report.has_findings:
        context.exit(1)
