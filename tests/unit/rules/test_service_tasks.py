"""The detector service runs its periodic tasks on time and survives a failing one."""

from __future__ import annotations

import pytest

from detectors.service import DetectorService, PeriodicTask


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_task_runs_at_its_interval() -> None:
    clock = _Clock()
    calls: list[float] = []
    task = PeriodicTask("retention", 300.0, lambda: calls.append(clock.now))
    service = DetectorService(None, [], monotonic=clock, tasks=[task])  # type: ignore[arg-type]

    service.run_due_tasks()
    clock.now = 299.0
    service.run_due_tasks()
    clock.now = 300.0
    service.run_due_tasks()

    assert calls == [0.0, 300.0]


def test_failing_task_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def failing() -> None:
        raise RuntimeError("engine down")

    tasks = [
        PeriodicTask("notifications", 30.0, failing),
        PeriodicTask("retention", 300.0, lambda: calls.append("retention")),
    ]
    service = DetectorService(None, [], monotonic=_Clock(), tasks=tasks)  # type: ignore[arg-type]

    ran = service.run_due_tasks()

    assert ran == 2
    assert calls == ["retention"]
    assert "task failed task=notifications" in caplog.text


def test_wait_accounts_for_tasks() -> None:
    clock = _Clock()
    task = PeriodicTask("retention", 300.0, lambda: None)
    service = DetectorService(None, [], monotonic=clock, tasks=[task])  # type: ignore[arg-type]

    service.run_due_tasks()
    clock.now = 100.0

    assert service.seconds_until_due() == 200.0
