"""socwb coverage on a real node: missing log types, clock skew, retention and write state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from socwb.catalogue import load_catalogue
from socwb.cli import cli
from socwb.coverage import source_coverage
from socwb.lifecycle_fallback import run_lifecycle
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend
from socwb.search.opensearch import OpenSearchBackend
from socwb.settings import Settings

pytestmark = pytest.mark.node


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _login(host: str, at: datetime, outcome: str) -> dict:
    return {
        "@timestamp": _iso(at),
        "event": {
            "category": ["authentication"],
            "outcome": outcome,
            "action": "user.session.start",
        },
        "user": {"name": "ann"},
        "host": {"name": host},
    }


@pytest.fixture
def idp_stream(backend: SearchBackend, namespace: str) -> str:
    apply_assets(backend, namespace)
    stream = f"logs-idp.okta-{namespace}"
    now = datetime.now(UTC)
    documents = [
        _login("ok-01", now - timedelta(minutes=2), "success"),
        _login("ok-01", now - timedelta(minutes=1), "failure"),
        _login("fast-01", now + timedelta(minutes=10), "success"),
        _login("fast-01", now + timedelta(minutes=10, seconds=5), "success"),
    ]
    operations = []
    for document in documents:
        operations += [{"create": {"_index": stream}}, document]
    result, _ = backend.bulk(operations, refresh=True)
    assert result.created == len(documents)
    return stream


def test_missing_required_log_types_reported(
    backend: SearchBackend, namespace: str, idp_stream: str
) -> None:
    source = load_catalogue().source("idp")

    coverage = source_coverage(backend, source, namespace)

    assert coverage.data_streams == [idp_stream]
    assert coverage.log_types_seen == ["login_success_and_failure"]
    assert coverage.log_types_missing == ["mfa_events", "account_changes"]
    assert "missing log type: mfa_events" in coverage.findings


def test_host_clock_ten_minutes_fast_is_flagged(
    backend: SearchBackend, namespace: str, idp_stream: str
) -> None:
    source = load_catalogue().source("idp")

    coverage = source_coverage(backend, source, namespace)

    hosts = {host.host: host for host in coverage.skew}
    assert hosts["fast-01"].is_flagged is True
    assert hosts["fast-01"].median_s < -590
    assert "clock ahead" in hosts["fast-01"].reason
    assert hosts["ok-01"].is_flagged is False
    assert coverage.future_events == 2


def test_events_counted_per_day(backend: SearchBackend, namespace: str, idp_stream: str) -> None:
    source = load_catalogue().source("idp")
    now = datetime.now(UTC)

    coverage = source_coverage(backend, source, namespace, now=now)

    assert coverage.events_24h == 2
    assert sum(coverage.events_per_day.values()) == 2
    assert len(coverage.events_per_day) in (30, 31)
    assert coverage.last_event is not None


def test_source_without_data_reports_it(backend: SearchBackend, namespace: str) -> None:
    apply_assets(backend, namespace)
    source = load_catalogue().source("edr")

    coverage = source_coverage(backend, source, namespace)

    assert "no data received" in coverage.findings
    assert coverage.log_types_seen == []


def test_retention_and_read_only_state_per_index(
    backend: SearchBackend, namespace: str, idp_stream: str
) -> None:
    if not isinstance(backend, OpenSearchBackend) or backend.has_ism():
        pytest.skip("this case uses the fallback enforcer to roll over with a moved clock")
    run_lifecycle(backend, namespace, datetime.now(UTC) + timedelta(days=31))
    source = load_catalogue().source("idp")

    coverage = source_coverage(backend, source, namespace)

    first, second = coverage.indices
    assert first.policy == f"socwb-retention-idp-{namespace}"
    assert first.guaranteed_days is not None and first.guaranteed_days >= 365
    assert first.is_retention_met is True
    assert first.is_read_only is True
    assert second.is_write_index is True
    assert not any("writable" in finding for finding in coverage.findings)


def test_coverage_command_json_and_exit_code(
    settings: Settings, namespace: str, idp_stream: str
) -> None:
    result = CliRunner().invoke(cli, ["coverage", "--format", "json"], obj=settings)

    assert result.exit_code == 1
    assert '"source": "idp"' in result.output
    assert '"mfa_events"' in result.output
