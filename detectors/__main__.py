"""Start the detector service: `python -m detectors`, the same as `socwb detect serve`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from detectors.service import DetectorService
from socwb.cli import configure_logging
from socwb.detection import Detector
from socwb.errors import ConfigurationError, WorkbenchError
from socwb.rules.catalog import builtin_rules
from socwb.search import create_backend
from socwb.settings import load_settings


def main() -> int:
    """Build the service from the settings and run it until SIGTERM; return the exit status."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        backend = create_backend(settings.search)
    except WorkbenchError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        detector = Detector(backend, settings.search.namespace, clock=lambda: datetime.now(UTC))
        service = DetectorService(detector, builtin_rules())
        service.install_signal_handlers()
        service.serve()
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
