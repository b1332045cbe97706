"""The health view: engine, detector runs, degraded monitoring, retention and dead letters.

`check_health` connects with a short timeout and no retries, and turns the
engine errors it catches (`WorkbenchError`) into a finding instead of raising,
so `socwb health` and the workbench's Health page still respond during an outage.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from socwb.alerts.store import alerts_index
from socwb.checkpoints import RunStore
from socwb.errors import QueryRejectedError, WorkbenchError
from socwb.ingest.indexer import deadletter_index
from socwb.lifecycle_fallback import index_states
from socwb.rules.catalog import MONITORING_DEGRADED
from socwb.search import SearchBackend, create_backend
from socwb.settings import SearchSettings
from socwb.timeutil import parse_utc_iso

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 5.0
"""Upper bound of one health request, so the check returns while the engine hangs."""

FAILED_RUNS_WINDOW = timedelta(hours=24)
MAX_RULES = 500


@dataclass
class RuleHealth:
    """The newest run of one rule.

    Attributes:
        age_s: Seconds between the run's start and the check.
        failed_runs: Failed runs of the rule within `FAILED_RUNS_WINDOW`.
    """

    rule_id: str
    last_outcome: str | None = None
    last_run_at: datetime | None = None
    age_s: float | None = None
    failed_runs: int = 0
    last_error: str | None = None


@dataclass
class LifecycleProblem:
    """A backing index whose retention policy failed (`failed`) or keeps failing (`stuck`)."""

    index: str
    policy: str
    state: str
    status: str
    error: str
    since: str


@dataclass
class HealthReport:
    """Everything the health view shows, checked at one moment.

    Attributes:
        engine_error: Why the engine could not be reached, or None.
        cluster_status: `green`, `yellow` or `red` from `_cluster/health`.
        degraded_alerts: Open monitoring-degraded alerts.
        deadletters: Documents in the namespace's dead-letter data stream.
    """

    checked_at: datetime
    namespace: str
    engine_reachable: bool = False
    engine_error: str | None = None
    cluster_status: str | None = None
    rules: list[RuleHealth] = field(default_factory=list)
    degraded_alerts: int = 0
    lifecycle_problems: list[LifecycleProblem] = field(default_factory=list)
    deadletters: int = 0

    @property
    def findings(self) -> list[str]:
        """Return one sentence per problem; empty when everything is healthy."""
        found = []
        if not self.engine_reachable:
            found.append(f"search engine unreachable: {self.engine_error}")
        if self.cluster_status == "red":
            found.append("cluster health is red: some primary shards are unassigned")
        for rule in self.rules:
            if rule.last_outcome == "failed":
                found.append(f"rule {rule.rule_id}: last run failed: {rule.last_error}")
        if self.degraded_alerts:
            found.append(f"{self.degraded_alerts} open monitoring-degraded alerts")
        for problem in self.lifecycle_problems:
            found.append(
                f"lifecycle {problem.status} on {problem.index} (policy {problem.policy}, "
                f"state {problem.state}) since {problem.since}: {problem.error}"
            )
        if self.deadletters:
            found.append(f"{self.deadletters} documents in {deadletter_index(self.namespace)}")
        return found

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values, with its findings."""
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat()
        for rule in data["rules"]:
            moment = rule["last_run_at"]
            rule["last_run_at"] = moment.isoformat() if moment else None
        data["findings"] = self.findings
        return data


def health_settings(settings: SearchSettings) -> SearchSettings:
    """Return `settings` with a short timeout and no retries, for one health check."""
    timeout = min(settings.request_timeout, HEALTH_TIMEOUT_S)
    return settings.model_copy(update={"request_timeout": timeout, "max_retries": 0})


def check_health(settings: SearchSettings, now: datetime) -> HealthReport:
    """Connect to the engine and build the health report of `settings.namespace`."""
    report = HealthReport(checked_at=now, namespace=settings.namespace)
    try:
        backend = create_backend(health_settings(settings))
    except WorkbenchError as exc:
        report.engine_error = str(exc)
        logger.warning("health check: engine unreachable error=%s", exc)
        return report
    try:
        return report_from(backend, settings.namespace, now)
    finally:
        backend.close()


def report_from(backend: SearchBackend, namespace: str, now: datetime) -> HealthReport:
    """Build the health report with a connected backend; engine errors become findings."""
    report = HealthReport(checked_at=now, namespace=namespace)
    try:
        _fill_report(backend, report)
    except WorkbenchError as exc:
        report.engine_reachable = False
        report.engine_error = str(exc)
        logger.warning("health check: engine failed during the check error=%s", exc)
    return report


def _fill_report(backend: SearchBackend, report: HealthReport) -> None:
    report.engine_reachable = True
    report.cluster_status = str(backend.cluster_health().get("status"))
    report.rules = rule_health(backend, report.namespace, report.checked_at)
    report.degraded_alerts = _count(
        backend,
        alerts_index(report.namespace),
        {
            "bool": {
                "filter": [{"term": {"rule_id": MONITORING_DEGRADED.id}}],
                "must_not": [{"term": {"status": "closed"}}],
            }
        },
    )
    report.lifecycle_problems = lifecycle_problems(index_states(backend, report.namespace))
    report.deadletters = _count(backend, deadletter_index(report.namespace), None)


def rule_health(backend: SearchBackend, namespace: str, now: datetime) -> list[RuleHealth]:
    """Return the newest run and the recent failures of every rule that has run."""
    since = (now - FAILED_RUNS_WINDOW).isoformat()
    body = {
        "size": 0,
        "aggs": {
            "rules": {
                "terms": {"field": "rule_id", "size": MAX_RULES},
                "aggs": {
                    "newest": {"top_hits": {"size": 1, "sort": [{"started_at": "desc"}]}},
                    "failed": {
                        "filter": {
                            "bool": {
                                "filter": [
                                    {"term": {"outcome": "failed"}},
                                    {"range": {"started_at": {"gte": since}}},
                                ]
                            }
                        }
                    },
                },
            }
        },
    }
    index = RunStore(backend, namespace).index
    try:
        response = backend.search(index, body)
    except QueryRejectedError as exc:
        if exc.status == 404:
            return []
        raise
    rules = []
    for bucket in response["aggregations"]["rules"]["buckets"]:
        newest = bucket["newest"]["hits"]["hits"][0]["_source"]
        started = parse_utc_iso(newest["started_at"])
        rules.append(
            RuleHealth(
                rule_id=str(bucket["key"]),
                last_outcome=newest.get("outcome"),
                last_run_at=started,
                age_s=(now - started).total_seconds(),
                failed_runs=int(bucket["failed"]["doc_count"]),
                last_error=newest.get("error"),
            )
        )
    return sorted(rules, key=lambda rule: rule.rule_id)


def lifecycle_problems(states: list[dict[str, Any]]) -> list[LifecycleProblem]:
    """Return the indices whose last lifecycle step failed.

    An index is `failed` after one failed step and `stuck` when its last two
    recorded steps both failed, so a retention policy that cannot run shows up
    after one policy check and is called stuck after the second.
    """
    problems = []
    for state in states:
        history = state.get("history") or []
        if not history or not str(history[-1].get("event", "")).startswith("failed:"):
            continue
        failures = [item for item in history[-2:] if str(item["event"]).startswith("failed:")]
        problems.append(
            LifecycleProblem(
                index=str(state["index"]),
                policy=str(state.get("policy")),
                state=str(state.get("state")),
                status="stuck" if len(failures) == 2 else "failed",
                error=str(history[-1]["event"]).removeprefix("failed: "),
                since=str(failures[0].get("at")),
            )
        )
    return problems


def _count(backend: SearchBackend, index: str, query: dict[str, Any] | None) -> int:
    try:
        return backend.count(index, query)
    except QueryRejectedError as exc:
        if exc.status == 404:
            return 0
        raise


def format_health(report: HealthReport) -> str:
    """Render the report as text: engine, one line per rule, then the findings."""
    engine = (
        f"engine: reachable, cluster {report.cluster_status}"
        if report.engine_reachable
        else f"engine: UNREACHABLE: {report.engine_error}"
    )
    lines = [f"health of namespace {report.namespace} at {report.checked_at.isoformat()}", engine]
    for rule in report.rules:
        age = f"{rule.age_s:.0f}s ago" if rule.age_s is not None else "never"
        lines.append(
            f"rule {rule.rule_id}: last run {rule.last_outcome} {age}, "
            f"{rule.failed_runs} failed in 24 h"
        )
    lines.append(f"open monitoring-degraded alerts: {report.degraded_alerts}")
    lines.append(f"dead letters: {report.deadletters}")
    findings = report.findings
    lines.append(f"findings: {len(findings)}")
    lines.extend(f"- {finding}" for finding in findings)
    return "\n".join(lines)
