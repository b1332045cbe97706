"""Run one detector run in a child process and stop at a named point, for the parent to kill.

Usage: python -m faults.detector_child URL NAMESPACE POINT MARKER

POINT is `before_alerts` (the run has evaluated its window but stored no
alert) or `before_checkpoint` (the alerts are stored and refreshed, the
checkpoint is not saved). At that point the child writes MARKER and sleeps
until it is killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from faults.detect import make_detector, spike_rule
from faults.node import fault_settings
from socwb.checkpoints import RunRecord
from socwb.detection import Detector
from socwb.search import create_backend

SLEEP_S = 600


def stop_here(marker: Path) -> None:
    """Write the marker and wait to be killed."""
    marker.write_text("reached", encoding="utf-8")
    time.sleep(SLEEP_S)
    raise SystemExit("the parent did not kill this process")


def main(url: str, namespace: str, point: str, marker: Path) -> None:
    """Run `auth_failure_spike` once and stop at `point`."""
    backend = create_backend(fault_settings(url, namespace).search)
    if point == "before_alerts":
        original = Detector._store_candidates

        def stalled(self: Detector, *args: Any) -> None:
            stop_here(marker)
            original(self, *args)

        Detector._store_candidates = stalled  # type: ignore[method-assign]
        detector = make_detector(backend, namespace)
    elif point == "before_checkpoint":

        def after_store(record: RunRecord) -> None:
            stop_here(marker)

        detector = make_detector(backend, namespace, after_store=after_store)
    else:
        raise SystemExit(f"unknown point {point!r}: use before_alerts or before_checkpoint")
    detector.run(spike_rule())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
