"""Pure parts of the health view: lifecycle problems and findings."""

from __future__ import annotations

from datetime import UTC, datetime

from socwb.health import HealthReport, LifecycleProblem, RuleHealth, lifecycle_problems

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def state(*events: str) -> dict[str, object]:
    return {
        "index": ".ds-logs-app.app_json-x-000001",
        "policy": "socwb-retention-app-x",
        "state": "hot",
        "history": [{"at": f"2024-05-01T1{n}:00:00Z", "event": e} for n, e in enumerate(events)],
    }


def test_lifecycle_ok_index_not_listed() -> None:
    assert lifecycle_problems([state("hot -> warm"), state()]) == []


def test_lifecycle_one_failure_is_failed() -> None:
    problems = lifecycle_problems([state("hot -> warm", "failed: blocked")])

    assert len(problems) == 1
    assert problems[0].status == "failed"
    assert problems[0].error == "blocked"
    assert problems[0].since == "2024-05-01T11:00:00Z"


def test_lifecycle_two_failures_is_stuck() -> None:
    problems = lifecycle_problems([state("failed: blocked", "failed: still blocked")])

    assert [problem.status for problem in problems] == ["stuck"]
    assert problems[0].since == "2024-05-01T10:00:00Z"


def test_lifecycle_recovered_index_not_listed() -> None:
    assert lifecycle_problems([state("failed: blocked", "rolled over")]) == []


def test_findings_name_each_problem() -> None:
    report = HealthReport(
        checked_at=NOW,
        namespace="x",
        engine_reachable=True,
        cluster_status="green",
        rules=[RuleHealth("r1", "failed", NOW, 0.0, 1, "timed out"), RuleHealth("r2", "succeeded")],
        degraded_alerts=1,
        lifecycle_problems=[LifecycleProblem("i1", "p1", "hot", "stuck", "blocked", "t0")],
        deadletters=3,
    )

    assert report.findings == [
        "rule r1: last run failed: timed out",
        "1 open monitoring-degraded alerts",
        "lifecycle stuck on i1 (policy p1, state hot) since t0: blocked",
        "3 documents in logs-socwb.deadletter-x",
    ]


def test_findings_unreachable_engine() -> None:
    report = HealthReport(checked_at=NOW, namespace="x", engine_error="timed out")

    assert report.findings == ["search engine unreachable: timed out"]
    assert report.to_dict()["engine_reachable"] is False
