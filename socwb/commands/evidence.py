"""The `socwb evidence` command: write the SOC 2 evidence pack of a period to a folder."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import click

from socwb.catalogue import load_catalogue
from socwb.commands.ledger import parse_period
from socwb.evidence.context import DEFAULT_SAMPLE_SIZE, PackContext
from socwb.evidence.pack import (
    PackDirectoryError,
    check_directory,
    prepare_directory,
    write_pack,
)
from socwb.evidence.sections import collect_tables
from socwb.rules.model import iso
from socwb.search import create_backend
from socwb.settings import Settings

logger = logging.getLogger(__name__)

MAX_SEED = 2**63 - 1


@click.command("evidence")
@click.option("--from", "first", required=True, help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last day of the period (included), YYYY-MM-DD.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write, which must be new or empty unless --force is given.",
)
@click.option(
    "--sample-size",
    type=click.IntRange(min=0),
    default=DEFAULT_SAMPLE_SIZE,
    show_default=True,
    help="Number of alerts in the random sample.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=MAX_SEED),
    default=None,
    help="Seed of the alert sample. Without it, a random seed is chosen and recorded.",
)
@click.option("--force", is_flag=True, help="Write into a non-empty directory, replacing a pack.")
@click.pass_context
def evidence(
    context: click.Context,
    first: str,
    last: str,
    out: Path,
    sample_size: int,
    seed: int | None,
    force: bool,
) -> None:
    """Write the evidence pack: coverage and retention per source, the coverage ledger, an
    alert sample with histories, suppression changes and the monthly figures.

    Days run from midnight to midnight in SOCWB_ORGANISATION__TIMEZONE. The folder
    has index.html, each table as HTML, CSV and JSON, and manifest.json with the
    SHA-256 of every file.
    """
    settings: Settings = context.obj
    period = parse_period(settings, first, last)
    try:
        check_directory(out, force=force)
    except PackDirectoryError as exc:
        raise click.UsageError(str(exc)) from exc
    chosen_seed = secrets.randbelow(MAX_SEED) if seed is None else seed
    as_of = datetime.now(UTC)
    namespace = settings.search.namespace
    backend = create_backend(settings.search)
    try:
        pack = PackContext(
            backend=backend,
            namespace=namespace,
            catalogue=load_catalogue(),
            period=period,
            as_of=as_of,
            sample_size=sample_size,
            seed=chosen_seed,
        )
        tables = collect_tables(pack)
    finally:
        backend.close()
    # The directory is cleared only now, so a failed build leaves an earlier pack intact.
    prepare_directory(out, force=force)
    metadata = {
        "period": period.label,
        "time_zone": str(period.zone.key),
        "namespace": namespace,
        "generated_at": iso(as_of),
        "sample_size": sample_size,
        "seed": chosen_seed,
        "product": f"soc-workbench {version('soc-workbench')}",
    }
    files = write_pack(out, tables, metadata)
    logger.info("evidence pack period=%s seed=%d path=%s", period.label, chosen_seed, out)
    click.echo(
        f"wrote {len(tables)} tables in {len(files)} files to {out} "
        f"(period {period.label}, seed {chosen_seed}); open {out / 'index.html'}"
    )
