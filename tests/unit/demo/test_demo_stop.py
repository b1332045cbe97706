"""`socwb demo --stop` stops the local node only when that demo started it.

`LocalNode` is replaced by a recorder, so a failing test cannot stop a real node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from socwb.cli import cli
from socwb.commands import demo as demo_command
from socwb.demo.launcher import DemoState


class RecordingNode:
    """Replacement for `LocalNode` that records the calls to `stop`."""

    stops: list[Any] = []

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def stop(self) -> bool:
        RecordingNode.stops.append(self.settings)
        return True


@pytest.fixture
def recorded_stops(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    RecordingNode.stops = []
    monkeypatch.setattr(demo_command, "LocalNode", RecordingNode)
    return RecordingNode.stops


def _stop_demo(state_directory: Path) -> str:
    result = CliRunner().invoke(cli, ["demo", "--stop", "--state-dir", str(state_directory)])
    assert result.exit_code == 0, result.output
    return result.output


def test_stop_leaves_node_it_did_not_start(tmp_path: Path, recorded_stops: list[Any]) -> None:
    output = _stop_demo(tmp_path)

    assert recorded_stops == []
    assert "node left running: this demo did not start it" in output
    assert "stopped: no demo process was running" in output


def test_stop_stops_node_it_started(tmp_path: Path, recorded_stops: list[Any]) -> None:
    marker = DemoState(tmp_path).node_marker
    marker.touch()

    output = _stop_demo(tmp_path)

    assert len(recorded_stops) == 1
    assert "node stopped" in output
    assert not marker.exists()
