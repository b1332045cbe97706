"""Control matrix and evidence-pack sections on the real node."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import remove_namespace

from socwb.catalogue import load_catalogue
from socwb.controls import control_matrix
from socwb.detection import Detector
from socwb.evidence.control_sections import (
    MATRIX_COLUMNS,
    RESULT_COLUMNS,
    control_tables,
    selftest_tables,
)
from socwb.rules.catalog import AUTH_FAILURE_SPIKE, MALWARE_DETECTED
from socwb.search import SearchBackend
from socwb.selftest import Selftest, rule_version, selftest_namespace
from socwb.settings import DetectorSettings, Settings

pytestmark = [pytest.mark.node, pytest.mark.slow]

RULES = [MALWARE_DETECTED, AUTH_FAILURE_SPIKE]


@pytest.fixture
def tested(backend: SearchBackend, settings: Settings, namespace: str) -> Iterator[datetime]:
    """Run the malware rule once in the real namespace and self-test it; yield the start."""
    started = datetime.now(UTC)
    detector = Detector(
        backend,
        namespace,
        clock=lambda: datetime.now(UTC),
        settings=DetectorSettings(ingest_delay=timedelta(0)),
    )
    detector.ensure_indices()
    detector.run(MALWARE_DETECTED)
    Selftest(backend, settings, [MALWARE_DETECTED]).run()
    yield started
    remove_namespace(backend, selftest_namespace(namespace))


def test_matrix_shows_live_rule_and_passing_canary(
    backend: SearchBackend, namespace: str, tested: datetime
) -> None:
    rows = control_matrix(backend, namespace, RULES, load_catalogue(), now=datetime.now(UTC))

    malware = [row for row in rows if row.rule_id == "malware_detected"]
    spike = [row for row in rows if row.rule_id == "auth_failure_spike"]
    assert [row.source for row in malware] == ["edr"]
    assert malware[0].rule_live.is_ok, malware[0].rule_live.reason
    assert malware[0].canary_passing.is_ok, malware[0].canary_passing.reason
    assert not malware[0].source_healthy.is_ok
    assert "no data received" in malware[0].source_healthy.reason
    assert [row.source for row in spike] == ["idp", "app", "cloud", "network"]
    assert not spike[0].rule_live.is_ok
    assert spike[0].canary_passing.reason == "no self-test result recorded"


def test_control_tables_for_period(
    backend: SearchBackend, namespace: str, tested: datetime
) -> None:
    now = datetime.now(UTC)

    mapping, matrix = control_tables(
        backend, namespace, tested - timedelta(days=30), now, now=now, rules=RULES
    )

    assert mapping.name == "control_mapping"
    controls = {row["control"]: row for row in mapping.rows}
    assert controls["malware_detected"]["criteria"] == "CC6.8, CC7.2"
    assert controls["check.selftest"]["criteria"] == "CC4.1, CC7.2"
    assert "retention.edr" in controls
    assert matrix.columns == MATRIX_COLUMNS
    edr = next(row for row in matrix.rows if row["rule_id"] == "malware_detected")
    assert edr["rule_live"] is True
    assert edr["canary_passing"] is True
    assert edr["source_healthy"] is False


def test_selftest_tables_between_times(
    backend: SearchBackend, namespace: str, tested: datetime
) -> None:
    now = datetime.now(UTC) + timedelta(seconds=1)

    results, summary = selftest_tables(backend, namespace, tested, now)
    before, _ = selftest_tables(backend, namespace, tested - timedelta(days=1), tested)

    assert results.columns == RESULT_COLUMNS
    assert [row["rule_id"] for row in results.rows] == ["malware_detected"]
    assert results.rows[0]["rule_version"] == rule_version(MALWARE_DETECTED)
    assert results.rows[0]["passed"] is True
    assert summary.rows[0]["runs"] == 1
    assert before.rows == []


def test_sections_reject_reversed_period(backend: SearchBackend, namespace: str) -> None:
    now = datetime.now(UTC)

    with pytest.raises(ValueError, match="must be later than its start"):
        selftest_tables(backend, namespace, now, now - timedelta(hours=1))
