"""Benchmark one detector cycle of every built-in rule over 30 days of generated logs.

Steps, all against the engine at `--url` in a namespace of its own:

1. Generate `--days` days with the demo generator (`socwb.demo.generate`) at
   `--scale`, and ingest them with `socwb.demo.launcher.load_data`, the code
   `socwb demo` runs (the shipped samples included, metric documents not).
2. Cycle 1: run every rule of `builtin_rules` once over everything that arrived,
   as a detector does after a restart with all the data new. The one arrival
   window runs from the start of the ingest to now, with no ingest delay
   because the streams are refreshed first. Baseline rules read their history
   from the same data.
3. Cycle 2: run every rule again right away. Its arrival windows contain no new
   events, as in the steady state between two scheduled runs.

4. Latency: a `DetectorService` with the default detector settings (30 s
   ingest delay, each rule every minute) serves all rules while one burst of
   11 authentication failures is indexed `--latency-offset` seconds after the
   service started. The time from the last event's `event.ingested` to the
   alert's `created_at` is one measured detection latency at that phase of
   the schedule.

For each cycle it prints the wall time, the sum of the `took` that the engine
reported for every `_search` and `_msearch` of the cycle, and their ratio. `took`
is the engine's own time for a search, so the ratio shows the time the detector
spends outside the engine: requests, JSON, Python evaluation and alert writes.
The namespace is deleted at the end unless `--keep` is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_bench import machine, remove_namespace  # noqa: E402

from detectors.service import DetectorService  # noqa: E402
from socwb.alerts.store import AlertStore  # noqa: E402
from socwb.demo import generate  # noqa: E402
from socwb.demo.launcher import load_data  # noqa: E402
from socwb.detection import Detector  # noqa: E402
from socwb.rules.catalog import builtin_rules  # noqa: E402
from socwb.rules.model import iso  # noqa: E402
from socwb.search import SearchBackend, create_backend  # noqa: E402
from socwb.settings import DetectorSettings, SearchSettings, Settings  # noqa: E402

logger = logging.getLogger("detect_bench")

SEARCH_SUFFIXES = ("/_search", "/_msearch")


@dataclass
class RuleTiming:
    """One rule's run in a cycle."""

    rule_id: str
    seconds: float
    took_ms: int
    searches: int
    hits: int
    alerts_created: int
    runs: int


@dataclass
class CycleTiming:
    """One cycle over every rule."""

    name: str
    seconds: float = 0.0
    took_ms: int = 0
    searches: int = 0
    rules: list[RuleTiming] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """Wall time divided by the engine's summed `took`."""
        return self.seconds / (self.took_ms / 1000) if self.took_ms else None


class TookCounter:
    """Sums the engine's `took` of every search sent through one backend."""

    def __init__(self, backend: SearchBackend) -> None:
        self.took_ms = 0
        self.searches = 0
        self._request = backend.request
        backend.request = self._counted  # type: ignore[method-assign]

    def _counted(self, method: str, path: str, **options: Any) -> Any:
        response = self._request(method, path, **options)
        if path.endswith(SEARCH_SUFFIXES) and isinstance(response, dict):
            for item in response.get("responses", [response]):
                self.took_ms += int(item.get("took", 0))
                self.searches += 1
        return response

    @contextmanager
    def measure(self) -> Iterator[list[int]]:
        """Yield a list that receives the `took` sum and search count of the block."""
        took, searches = self.took_ms, self.searches
        result: list[int] = []
        yield result
        result.extend((self.took_ms - took, self.searches - searches))


def run_cycle(
    name: str, detector: Detector, counter: TookCounter, privileged: list[str]
) -> CycleTiming:
    """Run every built-in rule until it has caught up, timing each rule."""
    cycle = CycleTiming(name)
    for rule in builtin_rules(privileged):
        started = time.perf_counter()
        hits = created = runs = 0
        with counter.measure() as totals:
            while True:
                record = detector.run(rule)
                hits += record.hits
                created += record.alerts_created
                runs += 1
                if not record.is_backfilled:
                    break
        seconds = time.perf_counter() - started
        timing = RuleTiming(rule.id, seconds, totals[0], totals[1], hits, created, runs)
        logger.info("cycle=%s rule=%s seconds=%.2f took_ms=%d", name, rule.id, seconds, totals[0])
        cycle.rules.append(timing)
        cycle.seconds += seconds
        cycle.took_ms += timing.took_ms
        cycle.searches += timing.searches
    return cycle


def summary(cycle: CycleTiming) -> dict[str, Any]:
    """Return a cycle's totals, its ratio and the median rule time as a JSON object."""
    ratio = cycle.ratio
    return {
        "cycle": cycle.name,
        "seconds": round(cycle.seconds, 2),
        "took_seconds": round(cycle.took_ms / 1000, 2),
        "ratio_wall_to_took": None if ratio is None else round(ratio, 2),
        "searches": cycle.searches,
        "median_rule_seconds": round(statistics.median(r.seconds for r in cycle.rules), 3),
        "rules": [asdict(rule) for rule in cycle.rules],
    }


def burst(stream: str, user: str, now: datetime) -> list[dict[str, Any]]:
    """Return bulk operations for 11 authentication failures of `user` in the last minute."""
    operations: list[dict[str, Any]] = []
    for number in range(11):
        operations.append({"create": {"_index": stream}})
        operations.append(
            {
                "@timestamp": iso(now - timedelta(seconds=55 - 5 * number)),
                "event": {
                    "kind": "event",
                    "category": ["authentication"],
                    "type": ["start"],
                    "outcome": "failure",
                    "dataset": "idp.okta",
                },
                "user": {"name": user},
                "source": {"ip": "203.0.113.10"},
            }
        )
    return operations


def measure_latency(
    detector: Detector, privileged: list[str], offset_s: float, timeout_s: float = 300.0
) -> dict[str, Any]:
    """Serve every rule on the default schedule and time one burst from arrival to alert."""
    service = DetectorService(detector, builtin_rules(privileged))
    worker = threading.Thread(target=service.serve, daemon=True)
    worker.start()
    stream = f"logs-idp.okta-{detector.namespace}"
    user = "latency" + uuid.uuid4().hex[:6]
    try:
        time.sleep(offset_s)
        detector.backend.bulk(burst(stream, user, datetime.now(UTC)), refresh=True)
        deadline = time.monotonic() + timeout_s
        store = AlertStore(detector.backend, detector.namespace)
        while time.monotonic() < deadline:
            store.refresh()
            found = store.search({"term": {"entity_key": f"user.name={user}"}})
            if found:
                return _latency(detector.backend, stream, user, found[0].created_at)
            time.sleep(0.5)
        return {"error": f"no alert within {timeout_s} s"}
    finally:
        service.stop()
        worker.join()


def _latency(
    backend: SearchBackend, stream: str, user: str, created_at: datetime
) -> dict[str, Any]:
    body = {
        "size": 0,
        "query": {"term": {"user.name": user}},
        "aggs": {"ingested": {"max": {"field": "event.ingested"}}},
    }
    response = backend.search(stream, body)
    arrived = datetime.fromtimestamp(response["aggregations"]["ingested"]["value"] / 1000, UTC)
    return {
        "arrived": iso(arrived),
        "alert_created": iso(created_at),
        "latency_seconds": round((created_at - arrived).total_seconds(), 1),
    }


def main() -> None:
    """Parse arguments, load the data, run two cycles and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=2.8,
        help="generator scale factor; 2.8 gives about 1M events in 30 days",
    )
    parser.add_argument("--days", type=int, default=30, help="days of generated data")
    parser.add_argument("--url", default="http://127.0.0.1:9200", help="engine URL")
    parser.add_argument("--workdir", type=Path, help="folder for the generated files")
    parser.add_argument("--output", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the namespace afterwards")
    parser.add_argument(
        "--latency-offset",
        type=float,
        default=20.0,
        help="seconds after the service start at which the latency burst is indexed",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("socwb", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    namespace = "benchdetect" + uuid.uuid4().hex[:6]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        search=SearchSettings(urls=[arguments.url], namespace=namespace, request_timeout=300),
    )
    backend = create_backend(settings.search)
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="socwb-detect-bench-"))
    start = (datetime.now(UTC) - timedelta(days=arguments.days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    report: dict[str, Any] = {"machine": machine(), "namespace": namespace}
    try:
        started = time.perf_counter()
        manifest = generate(
            workdir, seed=7, start=start, days=arguments.days, scale=arguments.scale
        )
        report["generate_seconds"] = round(time.perf_counter() - started, 1)

        ingest_started_at = datetime.now(UTC)
        started = time.perf_counter()
        load_data(backend, settings, workdir, lambda line: logger.info("%s", line))
        report["ingest_seconds"] = round(time.perf_counter() - started, 1)
        backend.refresh(f"logs-*-{namespace}")
        report["events"] = backend.count(f"logs-*-{namespace}")
        logger.info("events=%d", report["events"])

        window = datetime.now(UTC) - ingest_started_at + timedelta(minutes=1)
        detector_settings = DetectorSettings(
            ingest_delay=timedelta(0), first_run_lookback=window, catch_up_chunk=window
        )
        organisation = settings.organisation.model_copy(update={"timezone": manifest.timezone})
        detector = Detector(
            backend,
            namespace,
            clock=lambda: datetime.now(UTC),
            settings=detector_settings,
            organisation=organisation,
        )
        detector.ensure_indices()
        counter = TookCounter(backend)
        privileged = sorted(
            set(settings.detectors.privileged_users) | set(manifest.privileged_users)
        )
        report["cycles"] = [
            summary(run_cycle(name, detector, counter, privileged))
            for name in ("all data new", "no new data")
        ]
        served = Detector(backend, namespace, clock=lambda: datetime.now(UTC))
        report["latency"] = measure_latency(served, privileged, arguments.latency_offset)
    finally:
        if not arguments.keep:
            remove_namespace(backend, namespace)
        backend.close()
    text = json.dumps(report, indent=2)
    print(text)
    if arguments.output:
        arguments.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
