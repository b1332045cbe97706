"""The `socwb ingest` command: normalize log files and write them to their data streams."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from tqdm import tqdm

from socwb.ingest.geo import create_geo_lookup
from socwb.ingest.indexer import IngestAbortedError
from socwb.ingest.model import SOURCES, GeoLookup
from socwb.ingest.pipeline import (
    DEFAULT_BATCH_SIZE,
    CachedGeoLookup,
    IngestOptions,
    InputFormatError,
    parse_fallback_time,
    run_ingest,
)
from socwb.ingest.reader import InputError
from socwb.ingest.registry import format_names
from socwb.ingest.summary import IngestSummary, format_summary
from socwb.search import create_backend
from socwb.settings import Settings, load_settings

logger = logging.getLogger(__name__)

EXIT_DEADLETTERED = 3
"""Exit status when every record was stored but some only in the dead-letter data stream."""


def _check_timezone(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin"
        ) from None
    return value


def _check_fallback(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> datetime | Literal["now", "mtime"] | None:
    if value is None:
        return None
    try:
        return parse_fallback_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("ingest")
@click.option(
    "--source",
    required=True,
    type=click.Choice(SOURCES),
    help="Source type of the inputs; the format must belong to it.",
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(format_names()),
    help="Format of every input. Default: detected per file from its first 64 KiB.",
)
@click.option(
    "--year",
    type=click.IntRange(1970, 2100),
    help="Year of syslog timestamps that carry none (RFC 3164). Without it such lines "
    "are dead-lettered.",
)
@click.option(
    "--timezone",
    callback=_check_timezone,
    help="IANA time zone of timestamps without a UTC offset. "
    "Default: SOCWB_ORGANISATION__TIMEZONE.",
)
@click.option(
    "--fallback-time",
    callback=_check_fallback,
    help="Time for records without a valid one: now (start of the run), mtime (the "
    "file's modification time) or an ISO 8601 time with offset. Without it such "
    "records are dead-lettered.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Documents per bulk request.",
)
@click.option(
    "--geoip-db",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="MaxMind .mmdb country database. Default: the database bundled with geoip2fast.",
)
@click.option("--quiet", "-q", is_flag=True, help="Hide the progress bar.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True))
@click.pass_context
def ingest(
    context: click.Context,
    source: str,
    format_name: str | None,
    year: int | None,
    timezone: str | None,
    fallback_time: datetime | Literal["now", "mtime"] | None,
    batch_size: int,
    geoip_db: Path | None,
    quiet: bool,
    paths: tuple[str, ...],
) -> None:
    """Normalize log files to ECS and write them to logs-<source>.<format>-<namespace>.

    PATHS are files, folders (read recursively in sorted order), .gz files, or -
    for standard input. Running the command again on the same input adds nothing:
    every document has a deterministic id and existing ones count as duplicates.
    Records that fail to parse or that the engine rejects go to the
    logs-socwb.deadletter-<namespace> data stream with the reason, file and line.

    Exit status is 0 when every record was indexed or was a duplicate, and 3 when
    some records were dead-lettered. It is 1 when the run failed, and the error
    message then states how many records were not written and where to resume.
    It is 2 on usage errors, such as an unknown or ambiguous format.
    """
    settings = context.obj if isinstance(context.obj, Settings) else load_settings()
    options = IngestOptions(
        source=source,
        namespace=settings.search.namespace,
        format_name=format_name,
        default_year=year,
        timezone=timezone or settings.organisation.timezone,
        fallback_time=fallback_time,
        batch_size=batch_size,
        geo=CachedGeoLookup(_geo_lookup(geoip_db)),
    )
    try:
        summary = _run(settings, list(paths), options, show_progress=not quiet)
    except (InputError, InputFormatError) as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(format_summary(summary))
    if summary.totals.deadlettered:
        context.exit(EXIT_DEADLETTERED)


def _geo_lookup(mmdb_path: Path | None) -> GeoLookup:
    try:
        return create_geo_lookup(mmdb_path)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(
            f"cannot open {mmdb_path}: {exc}; pass a MaxMind .mmdb file",
            param_hint="--geoip-db",
        ) from exc


def _run(
    settings: Settings, paths: list[str], options: IngestOptions, *, show_progress: bool
) -> IngestSummary:
    backend = create_backend(settings.search)
    try:
        with _progress_bar(show_progress) as advance:
            return run_ingest(backend, paths, options, on_batch=advance)
    except IngestAbortedError as exc:
        if exc.summary is not None:
            click.echo(format_summary(exc.summary))
        raise
    finally:
        backend.close()


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yield a callback that advances a records-per-second bar on stderr.

    The bar is off when `enabled` is False or stderr is not a terminal.
    """
    disabled = not enabled or not sys.stderr.isatty()
    with tqdm(unit=" records", unit_scale=True, file=sys.stderr, disable=disabled) as bar:

        def advance(count: int) -> None:
            bar.update(count)

        yield advance
