"""Fixtures and helpers of the detection, bulk, workbench and secrets fault tests.

Test modules import the fixtures they use from here. Events get `event.ingested`
from the ingest pipeline, which always writes the engine's receive time, so the
detector runs on the real clock shifted forward by exactly its ingest delay. Each
arrival window then ends at the real time the run starts: events indexed (and
refreshed) before a run fall in its window, and events indexed after it in the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from integration.detection.conftest import auth_failure
from integration.detection.conftest import index_events as index_events
from integration.workbench.conftest import build_alert

# Re-exported: the fault test modules import these from here.
from integration.workbench.test_pages import APP, PASSWORD, TIMEOUT, app_backend, page, services  # noqa: F401
from integration.workbench.test_pages import state as app_state
from streamlit.testing.v1 import AppTest

from socwb.alerts.model import Alert
from socwb.alerts.store import AlertStore
from socwb.detection import Detector
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend
from socwb.settings import DetectorSettings

INGEST_DELAY = timedelta(seconds=30)

FAULT_SETTINGS = DetectorSettings(
    ingest_delay=INGEST_DELAY,
    future_tolerance=timedelta(minutes=5),
    first_run_lookback=timedelta(hours=2),
    catch_up_chunk=timedelta(hours=3),
)
"""Settings with a real ingest delay and a first window that reaches every test event."""

OKTA_STREAM = "logs-idp.okta-{namespace}"
"""Data stream of the test events; format it with the namespace."""


def shifted_clock(
    offset: timedelta = INGEST_DELAY,
) -> Callable[[], datetime]:
    """Return a clock that reads the real UTC time plus `offset`."""
    return lambda: datetime.now(UTC) + offset


@pytest.fixture
def provisioned(backend: SearchBackend, namespace: str) -> SearchBackend:
    """The engine with this namespace's templates and ingest pipeline applied."""
    apply_assets(backend, namespace)
    return backend


@pytest.fixture
def make_detector(provisioned: SearchBackend, namespace: str) -> Iterator[Callable[..., Detector]]:
    """Build detectors on the test namespace with `FAULT_SETTINGS` and the shifted clock."""

    def build(**overrides: Any) -> Detector:
        options: dict[str, Any] = {"clock": shifted_clock(), "settings": FAULT_SETTINGS}
        options.update(overrides)
        backend = options.pop("backend", provisioned)
        detector = Detector(backend, namespace, **options)
        detector.ensure_indices()
        return detector

    yield build


def failures(
    user: str, start: datetime, count: int = 11, step_s: float = 10
) -> list[dict[str, Any]]:
    """Return `count` failures of one user from `start`, `step_s` seconds apart."""
    return [auth_failure(user, start + timedelta(seconds=step_s * n)) for n in range(count)]


def stored_alerts(detector: Detector, rule_id: str) -> list[Alert]:
    """Return the alerts of one rule in the engine."""
    detector.alerts.refresh()
    return detector.alerts.search({"term": {"rule_id": rule_id}})


# The workbench ----------------------------------------------------------------------

PAGE_TIMEOUT = TIMEOUT
PAGES = ("Home.py", *sorted(f"pages/{path.name}" for path in (APP / "pages").glob("*.py")))
"""Every workbench page, so a new page is checked without editing this list."""


def signed_in_page(workbench: Any, name: str, user: str = "ana") -> AppTest:
    """Return a page whose session belongs to a freshly signed-in `user`."""
    principal = workbench.users.authenticate(user, PASSWORD)
    session = workbench.sessions.start(principal, now=datetime.now(UTC))
    app = page(name)
    app.session_state[app_state.SESSION_ID] = session.session_id
    return app


def write_alert(backend: SearchBackend, namespace: str, entity_value: str) -> Alert:
    """Store an open auth-failure-spike alert on `user.name=<entity_value>` and return it."""
    store = AlertStore(backend, namespace)
    store.ensure_index()
    alert = build_alert(created_at=datetime.now(UTC) - timedelta(minutes=10), user=entity_value)
    assert store.create_many([alert]) == []
    store.refresh()
    return alert
