"""The `socwb snapshot` commands: take, list and prune snapshots of the log data streams."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import click

from socwb import snapshots
from socwb.search import SearchBackend, create_backend
from socwb.settings import Settings
from socwb.snapshots import SnapshotInfo, SnapshotRetention

logger = logging.getLogger(__name__)


def _settings() -> Settings:
    settings: Settings = click.get_current_context().obj
    return settings


def _backend() -> SearchBackend:
    return create_backend(_settings().search)


def format_snapshot_table(items: list[SnapshotInfo]) -> str:
    """Render snapshots as one line each: name, state, start time and counts."""
    lines = [f"{'SNAPSHOT':<50} {'STATE':<11} {'STARTED':<26} STREAMS INDICES"]
    for item in items:
        lines.append(
            f"{item.name:<50} {item.state:<11} {item.started_at.isoformat():<26} "
            f"{len(item.data_streams):>7} {len(item.indices):>7}"
        )
    return "\n".join(lines)


def _echo(items: list[SnapshotInfo], output_format: str) -> None:
    if output_format == "json":
        click.echo(json.dumps([item.to_dict() for item in items], indent=2))
    else:
        click.echo(format_snapshot_table(items))


_FORMAT_OPTION = click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)


@click.group("snapshot")
def snapshot() -> None:
    """Copy the log data streams and the integrity ledger to the snapshot repository."""


@snapshot.command("take")
@_FORMAT_OPTION
def take(output_format: str) -> None:
    """Register the repository if needed, take a snapshot and wait for it to finish."""
    backend = _backend()
    try:
        info = snapshots.take_snapshot(backend, _settings().search.namespace, datetime.now(UTC))
    finally:
        backend.close()
    _echo([info], output_format)


@snapshot.command("list")
@_FORMAT_OPTION
def list_command(output_format: str) -> None:
    """List this namespace's snapshots, oldest first."""
    backend = _backend()
    try:
        items = snapshots.list_snapshots(backend, _settings().search.namespace)
    finally:
        backend.close()
    _echo(items, output_format)


@snapshot.command("prune")
@click.option("--keep-last", type=click.IntRange(min=1), help="Keep at most this many snapshots.")
@click.option(
    "--max-age-days",
    type=click.IntRange(min=1),
    help="Delete snapshots older than this many days.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be deleted and delete nothing.")
@_FORMAT_OPTION
def prune(
    keep_last: int | None, max_age_days: int | None, dry_run: bool, output_format: str
) -> None:
    """Delete snapshots outside the retention; the newest snapshot is always kept."""
    if keep_last is None and max_age_days is None:
        raise click.UsageError("set --keep-last, --max-age-days or both")
    max_age = timedelta(days=max_age_days) if max_age_days is not None else None
    retention = SnapshotRetention(keep_last=keep_last, max_age=max_age)
    backend = _backend()
    try:
        deleted = snapshots.prune_snapshots(
            backend, _settings().search.namespace, retention, datetime.now(UTC), dry_run=dry_run
        )
    finally:
        backend.close()
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(deleted)} snapshots", err=True)
    _echo(deleted, output_format)
