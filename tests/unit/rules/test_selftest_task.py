"""The detector service's self-test task takes its interval from the detector settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from detectors.service import selftest_task
from socwb.settings import Settings


def test_selftest_task_defaults_to_daily() -> None:
    task = selftest_task(None, Settings(_env_file=None))  # type: ignore[arg-type, call-arg]

    assert task.name == "selftest"
    assert task.interval_s == 86400.0


def test_selftest_interval_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_DETECTORS__SELFTEST_INTERVAL", "6h")

    task = selftest_task(None, Settings(_env_file=None))  # type: ignore[arg-type, call-arg]

    assert task.interval_s == 21600.0


def test_selftest_interval_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_DETECTORS__SELFTEST_INTERVAL", "0s")

    with pytest.raises(ValidationError, match="selftest_interval"):
        Settings(_env_file=None)  # type: ignore[call-arg]
