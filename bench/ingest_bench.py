"""Benchmark `socwb ingest` against a raw `_bulk` of the same, already normalized events.

For each data set (synthetic CloudTrail NDJSON and sshd auth.log, see
`generate_logs.py`) and each repetition, both sides write the same events into a
fresh namespace on the same engine:

- socwb: `socwb.ingest.pipeline.run_ingest`, the function the `socwb ingest`
  command calls, in this process. Timed from the call to its return: reading,
  normalizing, ids, geo lookup, batching and bulk writes.
- raw: the events are normalized before the clock starts and stored as bulk NDJSON
  (`create` with the same `_id`s). Only reading that file and posting it with
  urllib3 in batches of the same size is timed.

Events per second are the median over the repetitions. Run with the engine idle.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_logs import write_cloudtrail, write_sshd  # noqa: E402

from socwb.ingest.geo import create_geo_lookup  # noqa: E402
from socwb.ingest.ids import document_id  # noqa: E402
from socwb.ingest.model import ParseContext, Rejected  # noqa: E402
from socwb.ingest.pipeline import (  # noqa: E402
    CachedGeoLookup,
    IngestOptions,
    event_index,
    run_ingest,
)
from socwb.ingest.registry import get_normalizer  # noqa: E402
from socwb.provisioning import apply_assets  # noqa: E402
from socwb.search import SearchBackend, create_backend  # noqa: E402
from socwb.settings import SearchSettings  # noqa: E402

logger = logging.getLogger("ingest_bench")

DATASETS = {
    "cloudtrail": ("cloud", "aws_cloudtrail", "cloudtrail.ndjson", write_cloudtrail),
    "sshd": ("network", "openssh", "auth.log", write_sshd),
}
DEFAULT_YEAR = 2024


@dataclass
class Measurement:
    """One timed run of one side on one data set."""

    dataset: str
    side: str
    repetition: int
    events: int
    stored: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def machine() -> dict[str, str]:
    """Return CPU count, CPU model and memory of this machine from /proc."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory_gib": f"{total_kib / 1024 / 1024:.1f}",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def prenormalize(source_file: Path, format_name: str, target: Path) -> int:
    """Normalize `source_file` into bulk NDJSON (`create` action plus document); untimed."""
    normalizer = get_normalizer(format_name)
    ctx = ParseContext(
        source_name=str(source_file.resolve()),
        default_year=DEFAULT_YEAR,
        geo=CachedGeoLookup(create_geo_lookup()),
    )
    count = 0
    with source_file.open("rb") as lines, target.open("w", encoding="ascii") as output:
        for result in normalizer.parse(lines, ctx):
            if isinstance(result, Rejected):
                raise SystemExit(f"generated record rejected: {result.reason}")
            output.write(json.dumps({"create": {"_id": document_id(result)}}) + "\n")
            output.write(json.dumps(result, separators=(",", ":")) + "\n")
            count += 1
    return count


def raw_bulk_batches(bulk_file: Path, batch_size: int) -> Iterator[bytes]:
    """Yield bulk bodies of `batch_size` documents read from a prepared NDJSON file."""
    with bulk_file.open("rb") as stream:
        while True:
            lines = [line for _, line in zip(range(2 * batch_size), stream, strict=False)]
            if not lines:
                return
            yield b"".join(lines)


def run_raw(url: str, index: str, bulk_file: Path, batch_size: int) -> None:
    """POST the prepared bulk file to `index` with urllib3, checking every response."""
    pool = urllib3.PoolManager()
    headers = {"Content-Type": "application/x-ndjson"}
    for body in raw_bulk_batches(bulk_file, batch_size):
        response = pool.request(
            "POST", f"{url}/{index}/_bulk?filter_path=errors", body=body, headers=headers
        )
        if response.status != 200 or json.loads(response.data).get("errors"):
            raise SystemExit(f"raw bulk failed: HTTP {response.status} {response.data[:500]!r}")


def run_socwb(
    backend: SearchBackend, path: Path, source: str, fmt: str, ns: str, batch: int
) -> int:
    """Run the ingest the command runs; return the records it reports as indexed."""
    options = IngestOptions(
        source=source,
        namespace=ns,
        format_name=fmt,
        default_year=DEFAULT_YEAR,
        batch_size=batch,
        geo=CachedGeoLookup(create_geo_lookup()),
    )
    summary = run_ingest(backend, [str(path)], options)
    return summary.totals.indexed


def stored_count(backend: SearchBackend, index: str) -> int:
    """Refresh `index` and count its documents."""
    backend.refresh(index)
    return backend.count(index)


def remove_namespace(backend: SearchBackend, namespace: str) -> None:
    """Delete the data streams, indices, templates and pipelines of a namespace."""
    backend.delete(f"/_data_stream/*-{namespace}")
    backend.request(
        "DELETE",
        f"/*{namespace}*",
        params={"expand_wildcards": "all", "ignore_unavailable": "true"},
    )
    for kind, key in (
        ("_index_template", "index_templates"),
        ("_component_template", "component_templates"),
    ):
        listing = backend.get_json(f"/{kind}/*{namespace}*") or {}
        for template in listing.get(key, []):
            backend.delete(f"/{kind}/{template['name']}")
    for name in backend.get_json(f"/_ingest/pipeline/*{namespace}*") or {}:
        backend.delete(f"/_ingest/pipeline/{name}")


def measure(
    backend: SearchBackend,
    url: str,
    dataset: str,
    side: str,
    repetition: int,
    files: dict[str, Path],
    batch_size: int,
    events: int,
) -> Measurement:
    """Time one side on a fresh namespace, check the stored count, then clean up."""
    source, fmt, _name, _writer = DATASETS[dataset]
    namespace = "bench" + uuid.uuid4().hex[:8]
    apply_assets(backend, namespace)
    index = event_index(source, fmt, namespace)
    try:
        started = time.perf_counter()
        if side == "socwb":
            run_socwb(backend, files["input"], source, fmt, namespace, batch_size)
        else:
            run_raw(url, index, files["bulk"], batch_size)
        seconds = time.perf_counter() - started
        stored = stored_count(backend, index)
    finally:
        remove_namespace(backend, namespace)
    result = Measurement(dataset, side, repetition, events, stored, seconds)
    logger.info(
        "measured dataset=%s side=%s repetition=%d events=%d stored=%d seconds=%.1f eps=%.0f",
        dataset,
        side,
        repetition,
        events,
        stored,
        seconds,
        result.events_per_second,
    )
    if stored != events:
        raise SystemExit(f"{side} stored {stored} of {events} {dataset} events")
    return result


def summarise(measurements: list[Measurement]) -> list[dict[str, object]]:
    """Return per data set the median events/s of both sides and their ratio."""
    rows: list[dict[str, object]] = []
    for dataset in DATASETS:
        medians = {}
        for side in ("socwb", "raw"):
            rates = [
                m.events_per_second for m in measurements if m.dataset == dataset and m.side == side
            ]
            if rates:
                medians[side] = statistics.median(rates)
        if len(medians) == 2:
            rows.append(
                {
                    "dataset": dataset,
                    "socwb_eps": round(medians["socwb"]),
                    "raw_eps": round(medians["raw"]),
                    "ratio": round(medians["socwb"] / medians["raw"], 3),
                }
            )
    return rows


def main() -> None:
    """Parse arguments, prepare the data, run both sides and print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per data set")
    parser.add_argument("--repetitions", type=int, default=3, help="runs of each side")
    parser.add_argument("--batch-size", type=int, default=1000, help="documents per bulk request")
    parser.add_argument("--url", default="http://127.0.0.1:9200", help="engine URL")
    parser.add_argument(
        "--datasets", default="cloudtrail,sshd", help="comma-separated: cloudtrail, sshd"
    )
    parser.add_argument("--workdir", type=Path, help="folder for generated files (kept)")
    parser.add_argument("--output", type=Path, help="write the results as JSON to this file")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("socwb", "opensearch", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="socwb-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    backend = create_backend(SearchSettings(urls=[arguments.url], request_timeout=120))
    measurements: list[Measurement] = []
    started = datetime.now(UTC)
    try:
        for dataset in arguments.datasets.split(","):
            files = prepare(dataset, workdir, arguments.events)
            for repetition in range(1, arguments.repetitions + 1):
                # Alternate which side goes first, so drift in the engine hits both.
                sides = ("socwb", "raw") if repetition % 2 else ("raw", "socwb")
                for side in sides:
                    measurements.append(
                        measure(
                            backend,
                            arguments.url,
                            dataset,
                            side,
                            repetition,
                            files,
                            arguments.batch_size,
                            arguments.events,
                        )
                    )
    finally:
        backend.close()
    report = {
        "started": started.isoformat(timespec="seconds"),
        "engine": f"{backend.info.distribution} {backend.info.version}",
        "machine": machine(),
        "events": arguments.events,
        "repetitions": arguments.repetitions,
        "batch_size": arguments.batch_size,
        "results": summarise(measurements),
        "measurements": [asdict(m) | {"eps": round(m.events_per_second)} for m in measurements],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if arguments.output:
        arguments.output.write_text(text + "\n")


def prepare(dataset: str, workdir: Path, events: int) -> dict[str, Path]:
    """Generate the input file and its pre-normalized bulk file, unless they exist."""
    _source, fmt, name, writer = DATASETS[dataset]
    folder = workdir / str(events)
    folder.mkdir(exist_ok=True)
    input_file = folder / name
    bulk_file = folder / f"{name}.bulk.ndjson"
    if not input_file.exists():
        writer(input_file, events)
    if not bulk_file.exists():
        started = time.perf_counter()
        count = prenormalize(input_file, fmt, bulk_file)
        logger.info(
            "prenormalized dataset=%s events=%d seconds=%.1f",
            dataset,
            count,
            time.perf_counter() - started,
        )
    return {"input": input_file, "bulk": bulk_file}


if __name__ == "__main__":
    main()
