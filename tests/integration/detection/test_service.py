"""The detector service loop and the `socwb detect` commands on a real engine."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from detectors.service import DetectorService
from socwb.commands.detect import detect
from socwb.detection import Detector
from socwb.rules.catalog import AUTH_FAILURE_SPIKE
from socwb.search import SearchBackend
from socwb.settings import Settings

from .conftest import auth_failure, every, index_events, stored_alerts

MakeDetector = Callable[..., Detector]

BROKEN_RULE = AUTH_FAILURE_SPIKE.model_copy(
    update={"id": "broken_rule", "filter": [{"no_such_query": {"field": "x"}}]}
)


@pytest.fixture
def restored_signals() -> Iterator[None]:
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_failing_rule_does_not_stop_others(make_detector: MakeDetector) -> None:
    detector = make_detector()
    service = DetectorService(detector, [BROKEN_RULE, AUTH_FAILURE_SPIKE])

    ran = service.run_due()

    assert ran == 2
    assert [run.outcome for run in detector.runs.list_runs("broken_rule")] == ["failed"]
    assert [run.outcome for run in detector.runs.list_runs("auth_failure_spike")] == ["succeeded"]
    assert service.run_due() == 0


def test_service_stops_on_sigterm(make_detector: MakeDetector, restored_signals: None) -> None:
    service = DetectorService(make_detector(), [AUTH_FAILURE_SPIKE])
    service.install_signal_handlers()
    worker = threading.Thread(target=service.serve)
    worker.start()

    signal.raise_signal(signal.SIGTERM)
    worker.join(timeout=10)

    assert not worker.is_alive()
    assert service.stop_event.is_set()


def test_detect_run_range_writes_backfilled_alert(
    provisioned: SearchBackend, namespace: str, settings: Settings, make_detector: MakeDetector
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [auth_failure("user014", moment) for moment in every(start, 10, 11)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)

    window_start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    window_end = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    arguments = ["run", "--rule", "auth_failure_spike", "--from", window_start, "--to", window_end]

    result = CliRunner().invoke(detect, arguments, obj=settings)

    assert result.exit_code == 0, result.output
    assert "auth_failure_spike: succeeded" in result.output
    assert "alerts=1" in result.output
    alerts = stored_alerts(make_detector(), "auth_failure_spike")
    assert len(alerts) == 1
    assert alerts[0].is_backfilled
    assert make_detector().checkpoints.load("auth_failure_spike") is None


def test_detect_run_command_advances_checkpoint(
    settings: Settings, make_detector: MakeDetector
) -> None:
    result = CliRunner().invoke(detect, ["run", "--rule", "auth_failure_spike"], obj=settings)

    assert result.exit_code == 0, result.output
    assert result.output.count("auth_failure_spike: succeeded") == 4
    assert make_detector().checkpoints.load("auth_failure_spike") is not None


def test_detect_run_rejects_time_without_offset(settings: Settings) -> None:
    arguments = ["run", "--from", "2024-05-01T10:00:00", "--to", "2024-05-01T11:00:00Z"]

    result = CliRunner().invoke(detect, arguments, obj=settings)

    assert result.exit_code == 2
    assert "has no UTC offset" in result.output
