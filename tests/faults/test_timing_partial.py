"""Partial search results fail a detector run: the checkpoint stays, the next cycle retries.

Two faults make results partial: a closed backing index behind the rule's
data stream pattern, and a search response marked `timed_out` by a backend
seam (the engine's own response, with that one flag set).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socwb.detection import Detector
from socwb.errors import PartialResultsError, QueryRejectedError
from socwb.rules.catalog import AUTH_FAILURE_SPIKE
from socwb.search import SearchBackend
from socwb.search.opensearch import OpenSearchBackend

from .app_fixtures import (
    OKTA_STREAM,
    failures,
    index_events,
    make_detector,
    provisioned,
    stored_alerts,
)

FIXTURES = (make_detector, provisioned)
"""Fixtures of `app_fixtures` that the tests request by name; importing them registers them."""

pytestmark = pytest.mark.node

RULE = AUTH_FAILURE_SPIKE


class TimingOutBackend(OpenSearchBackend):
    """The real engine, except that the first `timeouts` search responses report `timed_out`."""

    def __init__(self, real: SearchBackend, timeouts: int) -> None:
        assert isinstance(real, OpenSearchBackend)
        super().__init__(real._client, real.info, real.retry_policy)
        self.timeouts = timeouts

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        response = super()._send(method, path, params, body)
        if self.timeouts > 0 and path.endswith("/_search"):
            self.timeouts -= 1
            return {**response, "timed_out": True}
        return response


def test_closed_backing_index_fails_run(
    make_detector: Callable[..., Detector], provisioned: SearchBackend, namespace: str
) -> None:
    stream = OKTA_STREAM.format(namespace=namespace)
    detector = make_detector()
    first = detector.run(RULE)
    index_events(provisioned, stream, failures("closed", datetime.now(UTC) - timedelta(minutes=2)))
    (events_index,) = [
        item["index_name"]
        for item in provisioned.get_json(f"/_data_stream/{stream}")["data_streams"][0]["indices"]
    ]
    provisioned.request("POST", f"/{stream}/_rollover")
    provisioned.request("POST", f"/{events_index}/_close")

    with pytest.raises(QueryRejectedError, match="index_closed_exception"):
        detector.run(RULE)
    failed = [run for run in detector.runs.list_runs(RULE.id) if run.outcome == "failed"]
    stored = detector.checkpoints.load(RULE.id)
    provisioned.request("POST", f"/{events_index}/_open")
    retried = detector.run(RULE)
    alerts = stored_alerts(detector, RULE.id)

    assert len(failed) == 1
    assert "index_closed_exception" in (failed[0].error or "")
    assert stored is not None
    assert stored.checkpoint.arrival_end == first.arrival_end
    assert retried.outcome == "succeeded"
    assert retried.arrival_start == first.arrival_end
    assert retried.hits == 11
    assert [alert.entity_key for alert in alerts] == ["user.name=closed"]


def test_timed_out_search_fails_run(
    make_detector: Callable[..., Detector], provisioned: SearchBackend, namespace: str
) -> None:
    stream = OKTA_STREAM.format(namespace=namespace)
    seam = TimingOutBackend(provisioned, timeouts=0)
    detector = make_detector(backend=seam)
    first = detector.run(RULE)
    index_events(provisioned, stream, failures("slow", datetime.now(UTC) - timedelta(minutes=2)))
    seam.timeouts = 1

    with pytest.raises(PartialResultsError, match="timed out"):
        detector.run(RULE)
    failed = [run for run in detector.runs.list_runs(RULE.id) if run.outcome == "failed"]
    stored = detector.checkpoints.load(RULE.id)
    retried = detector.run(RULE)
    alerts = stored_alerts(detector, RULE.id)

    assert seam.timeouts == 0
    assert len(failed) == 1
    assert "PartialResultsError" in (failed[0].error or "")
    assert stored is not None
    assert stored.checkpoint.arrival_end == first.arrival_end
    assert retried.outcome == "succeeded"
    assert retried.arrival_start == first.arrival_end
    assert retried.hits == 11
    assert [alert.entity_key for alert in alerts] == ["user.name=slow"]
