"""Benchmark the alert queue page with many alerts: backend query time and full page render.

The script writes `--alerts` generated alerts into the alerts index of a fresh bench
namespace, then measures, each as the median of `--repetitions` runs after one
untimed warm-up:

- the queue's backend calls, as the page makes them: `list_queue` for the first page
  and for the last reachable page (offset 9,950), `list_queue` with an entity filter,
  and `list_rule_ids` for the rule filter;
- a full run of `app/pages/1_Alert_queue.py` under Streamlit's AppTest, signed in as
  an analyst: session check, both backend calls and building the 50-row table.

It checks that the page shows one page of 50 alerts and the total of matching
alerts, then deletes the namespace's indices. Results go to stdout as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "app"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(APP))

from ingest_bench import machine, remove_namespace  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from socwb.alerts.model import Alert, AlertStatus, EntityValue  # noqa: E402
from socwb.alerts.store import AlertStore  # noqa: E402
from socwb.alerts.workflow import QueueFilter, list_queue, list_rule_ids  # noqa: E402
from socwb.auth import Principal, Role, SessionRegistry, UsersFile  # noqa: E402
from socwb.rules.model import Severity  # noqa: E402
from socwb.search import SearchBackend, create_backend  # noqa: E402
from socwb.settings import SearchSettings  # noqa: E402

logger = logging.getLogger("workbench_bench")

BATCH_SIZE = 2_000
RULES = [f"bench_rule_{number:02d}" for number in range(40)]
USERS = 5_000
# Share of each status among the generated alerts; the queue shows the first three.
STATUS_WEIGHTS = {
    AlertStatus.OPEN: 70,
    AlertStatus.ACKNOWLEDGED: 10,
    AlertStatus.IN_PROGRESS: 5,
    AlertStatus.CLOSED: 15,
}
RESPONSE_TIMES = {
    Severity.CRITICAL: timedelta(minutes=15),
    Severity.HIGH: timedelta(hours=1),
    Severity.MEDIUM: timedelta(hours=4),
    Severity.LOW: timedelta(hours=24),
}
QUEUE_PAGE_SIZE = 50
LAST_PAGE_OFFSET = 9_950
ANALYST = Principal("bench-analyst", frozenset({Role.ANALYST}))
ANALYST_PASSWORD = "bench analyst password"
RENDER_TIMEOUT = 120.0


def build_alert(generator: random.Random, now: datetime) -> Alert:
    """Return one alert created in the last 30 days with a random rule, user and status."""
    severity = generator.choice(list(Severity))
    created = now - timedelta(seconds=generator.randrange(30 * 86_400))
    user = f"user{generator.randrange(USERS):05d}"
    status = generator.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    return Alert(
        id=uuid.UUID(int=generator.getrandbits(128)).hex,
        rule_id=generator.choice(RULES),
        rule_name="bench rule",
        severity=severity,
        status=status,
        created_at=created,
        due_at=created + RESPONSE_TIMES[severity],
        updated_at=created,
        last_seen=created,
        entity=[EntityValue(field="user.name", value=user)],
        entity_key=f"user.name={user}",
        first_event=created - timedelta(minutes=5),
        last_event=created,
        count=generator.randrange(1, 500),
        criteria=["CC7.2"],
        policy_clause="benchmark alert",
        run_id="run-bench",
    )


def index_alerts(store: AlertStore, count: int, seed: int) -> float:
    """Write `count` alerts in bulk batches; return the seconds it took."""
    generator = random.Random(seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for first in range(0, count, BATCH_SIZE):
        batch = [build_alert(generator, now) for _ in range(min(BATCH_SIZE, count - first))]
        existing = store.create_many(batch)
        if existing:
            raise SystemExit(
                f"{len(existing)} generated alert ids exist already in {store.index}; "
                "delete the index and run again"
            )
    store.refresh()
    return time.perf_counter() - started


def median_seconds(call: Callable[[], object], repetitions: int) -> dict[str, float]:
    """Run `call` once untimed, then `repetitions` times; return median, min and max in ms."""
    call()
    timings = []
    for _ in range(repetitions):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(timings), 1),
        "min_ms": round(min(timings), 1),
        "max_ms": round(max(timings), 1),
    }


def measure_queries(backend: SearchBackend, namespace: str, repetitions: int) -> dict[str, Any]:
    """Time the queue's backend calls as the page makes them."""
    working = QueueFilter()
    by_entity = QueueFilter(entity="user00042")
    calls: dict[str, Callable[[], object]] = {
        "list_queue first page": lambda: list_queue(
            backend, namespace, ANALYST, working, offset=0, size=QUEUE_PAGE_SIZE
        ),
        "list_queue page 200": lambda: list_queue(
            backend, namespace, ANALYST, working, offset=LAST_PAGE_OFFSET, size=QUEUE_PAGE_SIZE
        ),
        "list_queue entity filter": lambda: list_queue(
            backend, namespace, ANALYST, by_entity, offset=0, size=QUEUE_PAGE_SIZE
        ),
        "list_rule_ids": lambda: list_rule_ids(backend, namespace, ANALYST),
    }
    return {name: median_seconds(call, repetitions) for name, call in calls.items()}


def page_services(backend: SearchBackend, namespace: str, users_file: Path) -> Any:
    """Point the workbench at the bench namespace, with one analyst in a fresh users file."""
    import backend as app_backend  # app/backend.py, found through sys.path

    users = UsersFile(users_file)
    users.add(ANALYST.name, ANALYST_PASSWORD, [Role.ANALYST])
    services = app_backend.Services(
        search=backend,
        namespace=namespace,
        zone=ZoneInfo("UTC"),
        users=users,
        sessions=SessionRegistry(),
    )
    app_backend.use_services(services)
    return services


def render_queue(services: Any, page_number: int) -> AppTest:
    """Run the queue page once, signed in, on page `page_number`; raise if it failed."""
    import state  # app/state.py

    session = services.sessions.start(ANALYST, now=datetime.now(UTC))
    app = AppTest.from_file(str(APP / "pages" / "1_Alert_queue.py"), default_timeout=RENDER_TIMEOUT)
    app.session_state[state.SESSION_ID] = session.session_id
    app.session_state[state.QUEUE_PAGE] = page_number
    app.run()
    if app.exception:
        raise SystemExit(f"the queue page failed: {app.exception[0].message}")
    return app


def check_page(app: AppTest, expected_total: int) -> dict[str, Any]:
    """Check that the page shows one page of alerts and the total; return what it shows."""
    rows = len(app.dataframe[0].value)
    caption = app.caption[0].value
    if rows != QUEUE_PAGE_SIZE or not caption.startswith(f"{expected_total} alerts match"):
        raise SystemExit(f"unexpected queue page: {rows} rows, caption {caption!r}")
    return {"rows": rows, "caption": caption}


def measure_render(
    backend: SearchBackend, namespace: str, repetitions: int, expected_total: int
) -> dict[str, Any]:
    """Time full runs of the queue page on its first and on its last reachable page."""
    with tempfile.TemporaryDirectory(prefix="socwb-bench-users-") as folder:
        services = page_services(backend, namespace, Path(folder) / "users.json")
        last_page = LAST_PAGE_OFFSET // QUEUE_PAGE_SIZE + 1
        first_page = check_page(render_queue(services, 1), expected_total)
        return {
            "page 1": median_seconds(lambda: render_queue(services, 1), repetitions),
            f"page {last_page}": median_seconds(
                lambda: render_queue(services, last_page), repetitions
            ),
            "first page content": first_page,
        }


def main() -> None:
    """Parse the options, index the alerts, measure, print JSON and delete the namespace."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000, help="alerts to index")
    parser.add_argument("--repetitions", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated alerts")
    parser.add_argument("--url", default="http://127.0.0.1:9200", help="engine URL")
    parser.add_argument("--output", type=Path, help="write the results as JSON to this file")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # The client logs the expected 404s of the clean-up as warnings.
    logging.getLogger("opensearch").setLevel(logging.ERROR)

    backend = create_backend(SearchSettings(urls=[options.url]))
    namespace = "bench" + uuid.uuid4().hex[:8]
    store = AlertStore(backend, namespace)
    try:
        store.ensure_index()
        index_seconds = index_alerts(store, options.alerts, options.seed)
        working = list_queue(backend, namespace, ANALYST, QueueFilter(), size=1).total
        results = {
            "machine": machine(),
            "engine": f"{backend.info.distribution} {backend.info.version}",
            "alerts": options.alerts,
            "alerts_in_queue": working,
            "index_seconds": round(index_seconds, 1),
            "repetitions": options.repetitions,
            "queries": measure_queries(backend, namespace, options.repetitions),
            "render": measure_render(backend, namespace, options.repetitions, working),
        }
    finally:
        remove_namespace(backend, namespace)
        left = backend.request("GET", f"/_cat/indices/*{namespace}*", params={"format": "json"})
        backend.close()
    if left:
        raise SystemExit(f"indices of namespace {namespace} are left: {left}; delete them")
    text = json.dumps(results, indent=2)
    print(text)
    if options.output:
        options.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
