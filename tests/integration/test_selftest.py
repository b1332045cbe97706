"""The alerting self-test on the real node: every rule passes, a broken rule is caught,
and canaries stay out of the alert queue and the monthly figures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import remove_namespace

from socwb.alerts.model import Alert, EntityValue, new_alert
from socwb.alerts.store import AlertStore
from socwb.alerts.workflow import QueueFilter, list_queue
from socwb.auth import Principal, Role
from socwb.baselines import baselines_index
from socwb.canaries import CANARY_DOMAIN
from socwb.commands import selftest as selftest_command
from socwb.reporting import ReportMonth, monthly_figures
from socwb.rules.catalog import (
    AUTH_FAILURE_SPIKE,
    AUTH_VOLUME_ANOMALY,
    LOG_SOURCE_STOPPED,
    MALWARE_DETECTED,
    builtin_rules,
)
from socwb.search import SearchBackend, create_backend
from socwb.selftest import (
    DETECTION_BROKEN,
    ResultStore,
    Selftest,
    SelftestResult,
    rule_version,
    selftest_namespace,
)
from socwb.settings import Settings

pytestmark = [pytest.mark.node, pytest.mark.slow]

ANALYST = Principal("ana", frozenset({Role.ANALYST}))
BROKEN_MALWARE = MALWARE_DETECTED.model_copy(
    update={"filter": [{"term": {"event.categroy": "malware"}}]}
)
"""A copy of the malware rule whose filter names a misspelt field, so it never matches."""


@dataclass
class SelftestRun:
    settings: Settings
    backend: SearchBackend
    results: list[SelftestResult]
    real_alert: Alert


def _settings(search_url: str, namespace: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        search={"urls": [search_url], "namespace": namespace, "max_retries": 2},
    )


def _real_alert(backend: SearchBackend, namespace: str) -> Alert:
    """Write one ordinary alert to the real namespace, so the queue is not empty."""
    now = datetime.now(UTC).replace(microsecond=0)
    alert = new_alert(
        AUTH_FAILURE_SPIKE,
        [EntityValue(field="user.name", value="alice@example.com")],
        id_time=now,
        first_event=now - timedelta(minutes=3),
        last_event=now,
        now=now,
        run_id="run-real",
        count=12,
    )
    store = AlertStore(backend, namespace)
    store.ensure_index()
    store.create_many([alert])
    store.refresh()
    return alert


@pytest.fixture(scope="module")
def full_run(search_url: str) -> Iterator[SelftestRun]:
    """One self-test of every built-in rule in a namespace of its own."""
    namespace = "t" + uuid.uuid4().hex[:10]
    settings = _settings(search_url, namespace)
    backend = create_backend(settings.search)
    try:
        real_alert = _real_alert(backend, namespace)
        results = Selftest(backend, settings, builtin_rules()).run()
        yield SelftestRun(settings, backend, results, real_alert)
    finally:
        remove_namespace(backend, selftest_namespace(namespace))
        remove_namespace(backend, namespace)
        backend.close()


@pytest.fixture
def cleanup_selftest(backend: SearchBackend, namespace: str) -> Iterator[None]:
    """Remove the test namespace's selftest namespace after the test."""
    yield
    remove_namespace(backend, selftest_namespace(namespace))


def test_every_rule_passes(full_run: SelftestRun) -> None:
    by_rule = {result.rule_id: result for result in full_run.results}

    assert sorted(by_rule) == sorted(rule.id for rule in builtin_rules())
    for rule in builtin_rules():
        result = by_rule[rule.id]
        assert result.passed, f"{rule.id}: {result.reason}"
        assert result.severity == rule.severity.value
        assert result.created_at is not None
        assert result.due_at == result.created_at + rule.response_time


def test_results_stored_with_rule_version(full_run: SelftestRun) -> None:
    store = ResultStore(full_run.backend, full_run.settings.search.namespace)

    for rule in builtin_rules():
        stored = store.latest(rule.id)
        assert stored is not None, rule.id
        assert stored.rule_version == rule_version(rule)
        assert stored.passed
        assert stored.alert_id is not None


def test_canaries_not_in_queue(full_run: SelftestRun) -> None:
    namespace = full_run.settings.search.namespace

    page = list_queue(full_run.backend, namespace, ANALYST, QueueFilter(statuses=()))

    assert [alert.id for alert in page.alerts] == [full_run.real_alert.id]
    canary_alerts = AlertStore(full_run.backend, selftest_namespace(namespace)).search()
    assert len(canary_alerts) >= len(builtin_rules())


def test_canaries_not_in_monthly_figures(full_run: SelftestRun) -> None:
    namespace = full_run.settings.search.namespace
    now = datetime.now(UTC)
    month = ReportMonth.parse(now.strftime("%Y-%m"), ZoneInfo("UTC"))

    figures = monthly_figures(full_run.backend, namespace, month, as_of=now)

    assert figures.total_alerts == 1
    assert figures.by_rule == {"auth_failure_spike": 1}


def test_canary_events_only_in_selftest_namespace(full_run: SelftestRun) -> None:
    namespace = full_run.settings.search.namespace
    marked = {"term": {"socwb.canary": True}}

    real = full_run.backend.search(
        f"logs-*-{namespace}", {"query": marked, "size": 0}, ignore_unavailable="true"
    )
    canary = full_run.backend.search(
        f"logs-*-{selftest_namespace(namespace)}", {"query": {"match_all": {}}, "size": 0}
    )
    canary_marked = full_run.backend.search(
        f"logs-*-{selftest_namespace(namespace)}", {"query": marked, "size": 0}
    )

    assert real["hits"]["total"]["value"] == 0
    assert canary["hits"]["total"]["value"] > 0
    assert canary_marked["hits"]["total"]["value"] == canary["hits"]["total"]["value"]


def test_rerun_passes_again(
    backend: SearchBackend, settings: Settings, cleanup_selftest: None
) -> None:
    rules = [AUTH_FAILURE_SPIKE, LOG_SOURCE_STOPPED, AUTH_VOLUME_ANOMALY]

    first = Selftest(backend, settings, rules).run()
    now = datetime.now(UTC)
    second_start = now.replace(microsecond=now.microsecond // 1000 * 1000)
    second = Selftest(backend, settings, rules).run()

    assert [result.passed for result in first] == [True, True, True], first
    assert [result.passed for result in second] == [True, True, True], second
    assert first[0].run_id != second[0].run_id
    stored = ResultStore(backend, settings.search.namespace).between(
        first[0].tested_at, datetime.now(UTC) + timedelta(seconds=1)
    )
    assert len(stored) == 6
    baselines = backend.search(
        baselines_index(selftest_namespace(settings.search.namespace)),
        {"query": {"term": {"rule_id": AUTH_VOLUME_ANOMALY.id}}, "size": 100},
    )["hits"]["hits"]
    assert baselines
    for hit in baselines:
        computed_at = datetime.fromisoformat(hit["_source"]["computed_at"].replace("Z", "+00:00"))
        assert computed_at >= second_start, "a baseline of the first run was read again"


def test_broken_rule_fails_and_raises_alert(
    backend: SearchBackend, settings: Settings, namespace: str, cleanup_selftest: None
) -> None:
    results = Selftest(backend, settings, [BROKEN_MALWARE, AUTH_FAILURE_SPIKE]).run()

    by_rule = {result.rule_id: result for result in results}
    assert not by_rule["malware_detected"].passed
    assert "no malware_detected alert" in by_rule["malware_detected"].reason
    assert by_rule["malware_detected"].rule_version == rule_version(BROKEN_MALWARE)
    assert by_rule["malware_detected"].rule_version != rule_version(MALWARE_DETECTED)
    assert by_rule["auth_failure_spike"].passed
    broken = AlertStore(backend, namespace).search({"term": {"rule_id": "detection_broken"}})
    assert len(broken) == 1
    assert broken[0].severity == DETECTION_BROKEN.severity
    assert broken[0].entity == [EntityValue(field="rule.id", value="malware_detected")]
    assert broken[0].due_at == broken[0].created_at + DETECTION_BROKEN.response_time


def test_repeated_failure_extends_one_alert(
    backend: SearchBackend, settings: Settings, namespace: str, cleanup_selftest: None
) -> None:
    Selftest(backend, settings, [BROKEN_MALWARE]).run()
    Selftest(backend, settings, [BROKEN_MALWARE]).run()

    broken = AlertStore(backend, namespace).search({"term": {"rule_id": "detection_broken"}})
    assert len(broken) == 1
    assert broken[0].count == 2
    assert broken[0].last_event > broken[0].first_event


def test_command_exit_status_on_failure(
    backend: SearchBackend,
    settings: Settings,
    cleanup_selftest: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        selftest_command, "builtin_rules", lambda users: [BROKEN_MALWARE, AUTH_FAILURE_SPIKE]
    )

    result = CliRunner().invoke(selftest_command.selftest, [], obj=settings)

    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert lines[0].startswith("malware_detected: FAILED")
    assert lines[1].startswith("auth_failure_spike: passed")
    assert lines[2].startswith("1 passed, 1 failed")


def test_canary_entities_are_reserved_names(full_run: SelftestRun) -> None:
    namespace = selftest_namespace(full_run.settings.search.namespace)
    alerts = AlertStore(full_run.backend, namespace).search()
    users = {
        item.value
        for alert in alerts
        for item in alert.entity
        if item.field == "user.name" and alert.rule_id != "privileged_off_hours"
    }

    assert users
    assert all(str(user).endswith(CANARY_DOMAIN) for user in users)


def test_rejected_query_fails_canary(
    backend: SearchBackend, settings: Settings, namespace: str, cleanup_selftest: None
) -> None:
    rejected = MALWARE_DETECTED.model_copy(update={"filter": [{"no_such_query": {}}]})

    results = Selftest(backend, settings, [rejected]).run()

    assert not results[0].passed
    assert results[0].reason.startswith("detector run failed: ")
    broken = AlertStore(backend, namespace).search({"term": {"rule_id": "detection_broken"}})
    assert [alert.entity_key for alert in broken] == ["rule.id=malware_detected"]
