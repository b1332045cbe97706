"""SOC 2 control mapping: what each rule, retention policy and check implements, and its status.

Every control names the trust services criteria it serves and states the
monitoring policy's clause in its own words. The control matrix crosses each
alert type with each log source that feeds it and shows three facts per row:
the rule is live, its canary passes, and the source is healthy.

NOTE: the criteria are the product's proposed mapping. The organisation's
auditor confirms it, so change it here when they map a control differently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote

from socwb.catalogue import Catalogue
from socwb.checkpoints import CheckpointStore, RunStore
from socwb.coverage import SourceCoverage, coverage_report
from socwb.rules.model import Rule, iso
from socwb.search import SearchBackend
from socwb.selftest import ResultStore, SelftestResult, rule_version
from socwb.settings import DetectorSettings

logger = logging.getLogger(__name__)

ControlKind = Literal["rule", "retention", "check"]


@dataclass(frozen=True)
class Control:
    """One control of the monitoring policy.

    Attributes:
        id: Rule id, `retention.<source>` or `check.<name>`.
        kind: A detection rule, a log source's retention policy, or a check.
        name: Title shown to auditors.
        criteria: SOC 2 trust services criteria that the control serves.
        clause: The policy's requirement that the control implements.
        implemented_by: The command, rule or policy that carries it out.
    """

    id: str
    kind: ControlKind
    name: str
    criteria: tuple[str, ...]
    clause: str
    implemented_by: str


CHECK_CONTROLS: tuple[Control, ...] = (
    Control(
        id="check.coverage",
        kind="check",
        name="Log coverage",
        criteria=("CC7.1",),
        clause=(
            "Every log source is centralised with its required log types, kept for at "
            "least its minimum retention, and uses synchronised time so events can be "
            "correlated"
        ),
        implemented_by="socwb coverage",
    ),
    Control(
        id="check.integrity",
        kind="check",
        name="Log integrity",
        criteria=("CC6.1", "CC7.1"),
        clause=(
            "Logs are kept write-once, and no log is modified or deleted before its "
            "retention period ends"
        ),
        implemented_by="socwb verify",
    ),
    Control(
        id="check.selftest",
        kind="check",
        name="Alerting self-test",
        criteria=("CC4.1", "CC7.2"),
        clause=(
            "Each event type raises an automated alert that the security team reviews: "
            "every rule raises its alert on canary events"
        ),
        implemented_by="socwb selftest",
    ),
    Control(
        id="check.lifecycle",
        kind="check",
        name="Retention lifecycle",
        criteria=("A1.2", "CC7.1"),
        clause=(
            "Each log index is rolled over, made read-only and deleted only after its "
            "minimum retention"
        ),
        implemented_by="socwb lifecycle run, or the ISM plugin",
    ),
    Control(
        id="check.alert_review",
        kind="check",
        name="Alert review and response",
        criteria=("CC7.3", "CC7.4"),
        clause=(
            "Every High and Critical alert is reviewed within its response time, and how "
            "each alert was handled is recorded in the incident tracking system"
        ),
        implemented_by="the workbench alert queue and incidents",
    ),
)
"""The checks of the policy besides the rules and retention policies."""

RULE_SOURCES: Mapping[str, tuple[str, ...]] = {
    "auth_failure_spike": ("idp", "app", "cloud", "network"),
    "new_login_location": ("idp", "app", "cloud", "network"),
    "privileged_off_hours": ("idp", "app", "cloud", "network", "database"),
    "iam_policy_change": ("cloud", "idp", "cicd"),
    "firewall_rule_change": ("cloud", "network"),
    "data_export_above_baseline": ("app", "database"),
    "new_admin_account": ("cloud", "idp", "cicd"),
    "malware_detected": ("edr",),
    "password_spraying": ("idp", "app", "cloud", "network"),
    "failures_then_success": ("idp", "app", "cloud", "network"),
    "mfa_push_fatigue": ("idp",),
    "impossible_travel": ("idp", "app", "cloud", "network"),
    "auth_volume_anomaly": ("idp", "app", "cloud", "network"),
    "egress_anomaly": ("app", "cloud"),
}
"""Sources whose events feed rules that search every source, by the log types the rule reads.

A rule with its own `sources` (e.g. `vulnerability_critical`) uses those. The
silence and clock-skew rules, like any rule missing here, cover every source of
the catalogue.
"""


def rule_controls(rules: Sequence[Rule]) -> list[Control]:
    """Return one control per rule, with its criteria and policy clause."""
    return [
        Control(
            id=rule.id,
            kind="rule",
            name=rule.name,
            criteria=tuple(rule.criteria),
            clause=f"{rule.policy_clause}: {rule.severity.value}, reviewed within "
            f"{_duration_text(rule.response_time)}",
            implemented_by=f"rule {rule.id}",
        )
        for rule in rules
    ]


def retention_controls(catalogue: Catalogue) -> list[Control]:
    """Return one control per log source's retention policy."""
    return [
        Control(
            id=f"retention.{source.key}",
            kind="retention",
            name=f"Retention of {source.title}",
            criteria=tuple(source.criteria),
            clause=(
                f"{source.title}: {', '.join(log.title for log in source.log_types)} are "
                f"centralised and kept for at least {source.retention_days} days"
            ),
            implemented_by=f"retention policy socwb-retention-{source.key}",
        )
        for source in catalogue.sources
    ]


def all_controls(rules: Sequence[Rule], catalogue: Catalogue) -> list[Control]:
    """Return the rule, retention and check controls, in that order."""
    return [*rule_controls(rules), *retention_controls(catalogue), *CHECK_CONTROLS]


def sources_of(rule: Rule, catalogue: Catalogue) -> list[str]:
    """Return the catalogue sources that feed a rule."""
    if rule.sources:
        return list(rule.sources)
    keys = RULE_SOURCES.get(rule.id)
    if keys is None:
        return [source.key for source in catalogue.sources]
    return list(keys)


def _duration_text(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


# The control matrix -------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """One yes-or-no fact of a matrix row, with the reason an auditor reads."""

    is_ok: bool
    reason: str


NO_COVERAGE = Status(False, "no coverage status for this source")


@dataclass(frozen=True)
class MatrixRow:
    """One alert type and one source that feeds it, with the three status facts."""

    rule_id: str
    rule_name: str
    severity: str
    criteria: tuple[str, ...]
    policy_clause: str
    source: str
    source_title: str
    rule_live: Status
    canary_passing: Status
    source_healthy: Status


def rule_liveness(
    checkpoint_success: datetime | None,
    last_run_outcome: str | None,
    last_run_error: str | None,
    *,
    now: datetime,
    allowed_gap: timedelta,
) -> Status:
    """Decide whether a rule is live: its latest run succeeded within `allowed_gap` of now."""
    if checkpoint_success is None or last_run_outcome is None:
        return Status(False, "no successful run recorded")
    if last_run_outcome != "succeeded":
        return Status(False, f"last run failed: {last_run_error or 'no error recorded'}")
    age = now - checkpoint_success
    if age > allowed_gap:
        return Status(False, f"last successful run at {iso(checkpoint_success)}, {age} ago")
    return Status(True, f"last successful run at {iso(checkpoint_success)}")


def canary_status(rule: Rule, latest: SelftestResult | None) -> Status:
    """Decide whether a rule's latest self-test passed for the rule as it is now."""
    if latest is None:
        return Status(False, "no self-test result recorded")
    if latest.rule_version != rule_version(rule):
        return Status(False, f"rule changed since its last self-test at {iso(latest.tested_at)}")
    if not latest.passed:
        return Status(False, f"failed at {iso(latest.tested_at)}: {latest.reason}")
    return Status(True, f"passed at {iso(latest.tested_at)}")


def source_health(coverage: SourceCoverage | None) -> Status:
    """Decide whether a source is healthy: its coverage report lists no findings."""
    if coverage is None:
        return Status(False, "source not in the coverage report")
    if coverage.findings:
        return Status(False, "; ".join(coverage.findings))
    return Status(True, f"last event {coverage.last_event or '-'}")


def build_matrix(
    rules: Sequence[Rule],
    catalogue: Catalogue,
    *,
    liveness: Mapping[str, Status],
    canaries: Mapping[str, Status],
    health: Mapping[str, Status],
) -> list[MatrixRow]:
    """Cross each rule with its sources into matrix rows, from statuses already computed."""
    rows = []
    for rule in rules:
        for key in sources_of(rule, catalogue):
            rows.append(
                MatrixRow(
                    rule_id=rule.id,
                    rule_name=rule.name,
                    severity=rule.severity.value,
                    criteria=tuple(rule.criteria),
                    policy_clause=rule.policy_clause,
                    source=key,
                    source_title=catalogue.source(key).title,
                    rule_live=liveness[rule.id],
                    canary_passing=canaries[rule.id],
                    source_healthy=health.get(
                        key, Status(False, "no coverage status for this source")
                    ),
                )
            )
    return rows


def control_matrix(
    backend: SearchBackend,
    namespace: str,
    rules: Sequence[Rule],
    catalogue: Catalogue,
    *,
    now: datetime,
    detector_settings: DetectorSettings | None = None,
    coverage: Sequence[SourceCoverage] | None = None,
) -> list[MatrixRow]:
    """Read rule runs, self-test results and coverage, and return the control matrix rows.

    Args:
        coverage: A coverage report computed before, or None to compute it here.
    """
    settings = detector_settings or DetectorSettings()
    report = coverage if coverage is not None else coverage_report(backend, catalogue, namespace)
    by_source = {item.source: item for item in report}
    health = {source.key: source_health(by_source.get(source.key)) for source in catalogue.sources}
    results = ResultStore(backend, namespace)
    liveness = {rule.id: _read_liveness(backend, namespace, rule, now, settings) for rule in rules}
    canaries = {rule.id: canary_status(rule, results.latest(rule.id)) for rule in rules}
    rows = build_matrix(rules, catalogue, liveness=liveness, canaries=canaries, health=health)
    logger.info(
        "control matrix computed namespace=%s rows=%d not_live=%d canary_failing=%d",
        namespace,
        len(rows),
        sum(not status.is_ok for status in liveness.values()),
        sum(not status.is_ok for status in canaries.values()),
    )
    return rows


def _read_liveness(
    backend: SearchBackend, namespace: str, rule: Rule, now: datetime, settings: DetectorSettings
) -> Status:
    runs = RunStore(backend, namespace)
    if backend.get_json(f"/{quote(runs.index)}") is None:
        return rule_liveness(None, None, None, now=now, allowed_gap=timedelta(0))
    stored = CheckpointStore(backend, namespace).load(rule.id)
    latest = runs.list_runs(rule.id, size=1)
    run = latest[0] if latest else None
    return rule_liveness(
        None if stored is None else stored.checkpoint.last_success_at,
        None if run is None else run.outcome,
        None if run is None else run.error,
        now=now,
        allowed_gap=max(settings.degraded_after, 2 * rule.interval),
    )
