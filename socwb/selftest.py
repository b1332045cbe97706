"""The alerting self-test: canary events per rule, one detector cycle, and a check of each alert.

Canary events go to a namespace of their own, `<namespace>_selftest`, so they
never mix with real logs, and their alerts go to that namespace's alerts index,
which the alert queue and the monthly figures never read. Each run deletes the
selftest namespace's data streams, alerts, checkpoints, run records and stored
baselines first, so a rerun starts from an empty namespace and no checkpoint
or baseline of an earlier run hides its canaries.

A rule passes when its run succeeded and its alert carries the canary's
entity, the rule's severity and `due_at == created_at + response_time`.
Results go to `socwb-selftest-<namespace>`. A failing rule raises a High
`detection_broken` alert in the real namespace, so analysts see it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from socwb.alerts.model import Alert, EntityValue, Evidence, new_alert
from socwb.alerts.store import AlertStore, alerts_index, create_index
from socwb.baselines import BaselineOptions, baselines_index
from socwb.canaries import (
    Canary,
    CanaryContext,
    CanaryError,
    build_canary,
    normalize_canary,
    silent_source,
    stream_of,
)
from socwb.catalogue import Catalogue, load_catalogue
from socwb.checkpoints import Checkpoint
from socwb.detection import Detector
from socwb.errors import SearchError
from socwb.ingest.geo import create_geo_lookup
from socwb.ingest.model import Event
from socwb.provisioning import apply_assets
from socwb.rules.model import MatchSpec, Rule, Severity, SilenceSpec, iso
from socwb.search import SearchBackend
from socwb.settings import Settings

logger = logging.getLogger(__name__)

SELFTEST_SUFFIX = "_selftest"
"""Suffix of the selftest namespace, with `_` because data stream namespaces forbid `-`."""

RUN_LOOKBACK = timedelta(minutes=10)
"""Arrival window of the cycle: the canaries are written seconds before it starts."""

DETECTION_BROKEN = Rule(
    id="detection_broken",
    name="Detection broken",
    severity=Severity.HIGH,
    response_time=timedelta(hours=1),
    criteria=["CC4.1", "CC7.2"],
    policy_clause=(
        "Each event type raises an automated alert: a rule whose canary events raise "
        "no correct alert leaves its events unchecked"
    ),
    spec=MatchSpec(group_by=["rule.id"]),
)
"""Written by the self-test itself, never scheduled: a rule failed its canary."""

_KEYWORD: dict[str, Any] = {"type": "keyword"}
_DATE: dict[str, Any] = {"type": "date"}

RESULTS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "run_id": _KEYWORD,
        "rule_id": _KEYWORD,
        "rule_version": _KEYWORD,
        "tested_at": _DATE,
        "passed": {"type": "boolean"},
        "reason": {"type": "text"},
        "alert_id": _KEYWORD,
        "severity": _KEYWORD,
        "created_at": _DATE,
        "due_at": _DATE,
    },
}

Clock = Callable[[], datetime]


def selftest_namespace(namespace: str) -> str:
    """Return the namespace that contains the canary events and alerts of `namespace`."""
    return f"{namespace}{SELFTEST_SUFFIX}"


def results_index(namespace: str) -> str:
    """Return the index of the self-test results of a namespace."""
    return f"socwb-selftest-{namespace}"


def rule_version(rule: Rule) -> str:
    """Return a stable SHA-256 of the rule's whole definition, as sorted JSON."""
    text = json.dumps(rule.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SelftestResult:
    """Outcome of one rule's canary.

    Attributes:
        rule_version: `rule_version` of the rule as tested.
        reason: Why the rule failed, or what the passing alert showed.
        alert_id: The canary alert that was checked, when one was found.
    """

    run_id: str
    rule_id: str
    rule_version: str
    tested_at: datetime
    passed: bool
    reason: str
    alert_id: str | None = None
    severity: str | None = None
    created_at: datetime | None = None
    due_at: datetime | None = None

    def to_document(self) -> dict[str, Any]:
        """Return the results-index document with ISO 8601 UTC times."""
        return {
            "run_id": self.run_id,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "tested_at": iso(self.tested_at),
            "passed": self.passed,
            "reason": self.reason,
            "alert_id": self.alert_id,
            "severity": self.severity,
            "created_at": None if self.created_at is None else iso(self.created_at),
            "due_at": None if self.due_at is None else iso(self.due_at),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> SelftestResult:
        """Build a result from a results-index document."""
        times = {
            name: None if document.get(name) is None else _parse_time(document[name])
            for name in ("created_at", "due_at")
        }
        return cls(
            run_id=document["run_id"],
            rule_id=document["rule_id"],
            rule_version=document["rule_version"],
            tested_at=_parse_time(document["tested_at"]),
            passed=bool(document["passed"]),
            reason=document["reason"],
            alert_id=document.get("alert_id"),
            severity=document.get("severity"),
            **times,
        )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def check_alert(
    rule: Rule, canary: Canary, alerts: Sequence[Alert]
) -> tuple[bool, str, Alert | None]:
    """Check a rule's alerts against its canary: entity, severity and due time.

    Returns:
        Whether the rule passed, the reason, and the alert that was checked.
    """
    matching = [alert for alert in alerts if _carries(alert, canary.expected_entity)]
    if not matching:
        expected = ", ".join(f"{name}={value}" for name, value in canary.expected_entity.items())
        return False, f"no {rule.id} alert for the canary entity {expected}", None
    alert = matching[0]
    if alert.severity != rule.severity:
        reason = f"alert severity is {alert.severity.value}, the rule's is {rule.severity.value}"
        return False, reason, alert
    expected_due = alert.created_at + rule.response_time
    if alert.due_at != expected_due:
        reason = (
            f"alert due_at is {iso(alert.due_at)}, expected created_at plus "
            f"{rule.response_time} = {iso(expected_due)}"
        )
        return False, reason, alert
    reason = f"alert raised, {alert.severity.value}, due {iso(alert.due_at)}"
    return True, reason, alert


def _carries(alert: Alert, expected: dict[str, str]) -> bool:
    values = {item.field: item.value for item in alert.entity}
    return all(values.get(name) == value for name, value in expected.items())


class ResultStore:
    """Writes and reads the self-test results of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.index = results_index(namespace)

    def ensure_index(self) -> None:
        """Create the results index with its mapping when it does not exist."""
        create_index(self.backend, self.index, RESULTS_MAPPING)

    def write(self, results: Sequence[SelftestResult]) -> None:
        """Store results, one document per run and rule.

        Raises:
            SearchError: The engine rejected some result.
        """
        operations: list[dict[str, Any]] = []
        for result in results:
            doc_id = f"{result.run_id}-{result.rule_id}"
            operations.append({"create": {"_index": self.index, "_id": doc_id}})
            operations.append(result.to_document())
        if not operations:
            return
        outcome, _ = self.backend.bulk(operations, refresh=True)
        problems = outcome.errors or outcome.retryable
        if problems:
            raise SearchError(
                f"self-test results not stored in {self.index}: {problems}. Run the self-test again"
            )

    def search(
        self, query: dict[str, Any], *, size: int = 1000, newest_first: bool = True
    ) -> list[SelftestResult]:
        """Return results matching a query by test time, or none when the index is missing."""
        if self.backend.get_json(f"/{quote(self.index)}") is None:
            return []
        body = {
            "size": size,
            "query": query,
            "sort": [{"tested_at": "desc" if newest_first else "asc"}, {"rule_id": "asc"}],
        }
        hits = self.backend.search(self.index, body)["hits"]["hits"]
        return [SelftestResult.from_document(hit["_source"]) for hit in hits]

    def latest(self, rule_id: str, *, passed: bool | None = None) -> SelftestResult | None:
        """Return a rule's newest result, or its newest passing or failing one."""
        filters: list[dict[str, Any]] = [{"term": {"rule_id": rule_id}}]
        if passed is not None:
            filters.append({"term": {"passed": passed}})
        found = self.search({"bool": {"filter": filters}}, size=1)
        return found[0] if found else None

    def between(self, start: datetime, end: datetime) -> list[SelftestResult]:
        """Return the results tested in `[start, end)`, oldest first."""
        query = {"range": {"tested_at": {"gte": iso(start), "lt": iso(end)}}}
        return self.search(query, size=10_000, newest_first=False)


class Selftest:
    """Runs the self-test of one namespace.

    Args:
        backend: The engine.
        settings: Namespace, detector settings, business hours and privileged users.
        rules: The rules to test. The service passes the built-in rules, and tests
            pass a modified copy to check that a broken rule is caught.
        clock: Source of the current UTC time.
        catalogue: Log source catalogue, or the packaged one when None.
    """

    def __init__(
        self,
        backend: SearchBackend,
        settings: Settings,
        rules: Sequence[Rule],
        *,
        clock: Clock = lambda: datetime.now(UTC),
        catalogue: Catalogue | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.rules = list(rules)
        self.clock = clock
        self.catalogue = catalogue or load_catalogue()
        self.namespace = settings.search.namespace
        self.canary_namespace = selftest_namespace(self.namespace)
        self.results = ResultStore(backend, self.namespace)

    def run(self) -> list[SelftestResult]:
        """Write canaries, run one detector cycle over them, check and store each rule's result.

        Raises:
            WorkbenchError: The selftest namespace cannot be reset or provisioned,
                or the results cannot be stored. Failures of single rules are
                results, not exceptions.
        """
        run_id = uuid.uuid4().hex
        logger.info("self-test started run_id=%s rules=%d", run_id, len(self.rules))
        self._reset()
        apply_assets(self.backend, self.canary_namespace)
        detector = self._detector()
        detector.ensure_indices()
        started = self._now()
        canaries = self._write_canaries(run_id, started)
        self._seed_silence_checkpoints(detector, canaries, started)
        results = [self._test_rule(detector, rule, canaries, run_id) for rule in self.rules]
        self.results.ensure_index()
        self.results.write(results)
        self._raise_broken(results)
        failed = sum(not result.passed for result in results)
        passed = len(results) - failed
        logger.info("self-test finished run_id=%s passed=%d failed=%d", run_id, passed, failed)
        return results

    def _now(self) -> datetime:
        # Milliseconds, as the engine stores them, so stored times compare equal.
        now = self.clock()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _reset(self) -> None:
        """Delete the selftest namespace's data streams and detector indices.

        The stored baselines go too: a document of an earlier run has the same id
        as today's and would be read in place of one computed from this run's history.
        """
        namespace = self.canary_namespace
        self.backend.delete(f"/_data_stream/logs-*-{namespace}")
        for index in (
            alerts_index(namespace),
            f"socwb-checkpoints-{namespace}",
            f"socwb-runs-{namespace}",
            baselines_index(namespace),
        ):
            self.backend.request(
                "DELETE", f"/{quote(index)}", params={"ignore_unavailable": "true"}
            )

    def _detector(self) -> Detector:
        # The canaries are refreshed before the cycle, so no ingest delay is needed,
        # and the arrival window only has to reach back to when they were written.
        detector_settings = self.settings.detectors.model_copy(
            update={
                "ingest_delay": timedelta(0),
                "first_run_lookback": RUN_LOOKBACK,
                "catch_up_chunk": max(self.settings.detectors.catch_up_chunk, RUN_LOOKBACK),
            }
        )
        return Detector(
            self.backend,
            self.canary_namespace,
            clock=self.clock,
            settings=detector_settings,
            catalogue=self.catalogue,
            organisation=self.settings.organisation,
        )

    def _write_canaries(self, run_id: str, now: datetime) -> dict[str, Canary | CanaryError]:
        """Build every rule's canary and bulk-write its normalized events."""
        context = CanaryContext(
            now=now,
            rng=random.Random(run_id),
            organisation=self.settings.organisation,
            privileged_users=self.settings.detectors.privileged_users,
            silent_source=silent_source([source.key for source in self.catalogue.sources]),
            baselines=BaselineOptions(
                window=self.settings.detectors.baseline_window,
                min_span=self.settings.detectors.baseline_min_span,
                refresh=self.settings.detectors.baseline_refresh,
            ),
        )
        geo = create_geo_lookup()
        canaries: dict[str, Canary | CanaryError] = {}
        operations: list[dict[str, Any]] = []
        for rule in self.rules:
            try:
                canary = build_canary(rule.id, context)
                rule_operations = [
                    operation
                    for record in canary.records
                    for operation in _create_operations(
                        stream_of(record.format_name, self.canary_namespace),
                        normalize_canary(record, geo),
                    )
                ]
            except CanaryError as exc:
                logger.warning("canary not built rule=%s error=%s", rule.id, exc)
                canaries[rule.id] = exc
                continue
            canaries[rule.id] = canary
            operations.extend(rule_operations)
        if operations:
            outcome, _ = self.backend.bulk(operations, refresh=True)
            problems = outcome.errors or outcome.retryable
            if problems:
                raise SearchError(
                    f"canary events not written to the {self.canary_namespace} namespace: "
                    f"{problems}. Run the self-test again, and if it fails the same way, "
                    f"run 'socwb apply --dry-run' with SOCWB_SEARCH__NAMESPACE="
                    f"{self.canary_namespace} to see the template drift"
                )
        return canaries

    def _seed_silence_checkpoints(
        self, detector: Detector, canaries: dict[str, Canary | CanaryError], now: datetime
    ) -> None:
        """Date a silence rule's first run so far back that its silent source counts as stopped."""
        for rule in self.rules:
            canary = canaries.get(rule.id)
            if not isinstance(rule.spec, SilenceSpec) or not isinstance(canary, Canary):
                continue
            if canary.silent_source is None:
                continue
            allowed = self.catalogue.source(canary.silent_source).max_silence()
            checkpoint = Checkpoint(
                rule_id=rule.id,
                arrival_end=now,
                first_run_at=now - allowed - timedelta(minutes=1),
                last_success_at=now,
                last_run_id="selftest",
                updated_at=now,
            )
            detector.checkpoints.save(checkpoint, None)

    def _test_rule(
        self,
        detector: Detector,
        rule: Rule,
        canaries: dict[str, Canary | CanaryError],
        run_id: str,
    ) -> SelftestResult:
        tested_at = self._now()
        base = SelftestResult(run_id, rule.id, rule_version(rule), tested_at, False, "")
        canary = canaries[rule.id]
        if isinstance(canary, CanaryError):
            return replace(base, reason=str(canary))
        try:
            detector.run(rule)
        except Exception as exc:  # noqa: BLE001 - any error of a rule's run means it is broken
            # Detector.run logged the failure with its traceback and recorded the run.
            return replace(base, reason=f"detector run failed: {type(exc).__name__}: {exc}")
        detector.alerts.refresh()
        alerts = detector.alerts.search({"term": {"rule_id": rule.id}})
        passed, reason, alert = check_alert(rule, canary, alerts)
        if alert is None:
            return replace(base, reason=reason)
        return replace(
            base,
            passed=passed,
            reason=reason,
            alert_id=alert.id,
            severity=alert.severity.value,
            created_at=alert.created_at,
            due_at=alert.due_at,
        )

    def _raise_broken(self, results: Sequence[SelftestResult]) -> None:
        failures = [result for result in results if not result.passed]
        if not failures:
            return
        store = AlertStore(self.backend, self.namespace)
        store.ensure_index()
        for result in failures:
            self._raise_one(store, result)
        store.refresh()

    def _raise_one(self, store: AlertStore, result: SelftestResult) -> None:
        """Write the rule's detection-broken alert, or extend the one of the same failure streak.

        The alert id comes from the time of the rule's last passing self-test, so
        repeated failures without a pass in between extend one alert.
        """
        last_pass = self.results.latest(result.rule_id, passed=True)
        streak_start = last_pass.tested_at if last_pass else datetime.fromtimestamp(0, UTC)
        evidence = Evidence(
            buckets={
                "rule_version": result.rule_version,
                "reason": result.reason,
                "selftest_run_id": result.run_id,
                "last_passed_at": None if last_pass is None else iso(last_pass.tested_at),
            },
            index=results_index(self.namespace),
        )
        alert = new_alert(
            DETECTION_BROKEN,
            [EntityValue(field="rule.id", value=result.rule_id)],
            id_time=streak_start,
            first_event=result.tested_at,
            last_event=result.tested_at,
            now=result.tested_at,
            run_id=result.run_id,
            count=1,
            evidence=evidence,
            rule_name=f"{DETECTION_BROKEN.name}: {result.rule_id}",
        )
        if store.create_many([alert]):
            stored = store.get(alert.id)
            if stored is not None:
                store.update_many([_extended(stored, alert)])
        logger.warning(
            "detection broken rule=%s version=%s alert_id=%s reason=%s",
            result.rule_id,
            result.rule_version[:12],
            alert.id,
            result.reason,
        )


def _extended(stored: Alert, alert: Alert) -> Alert:
    return stored.model_copy(
        update={
            "last_event": alert.last_event,
            "last_seen": alert.last_seen,
            "updated_at": alert.updated_at,
            "count": stored.count + 1,
            "evidence": alert.evidence,
        }
    )


def _create_operations(stream: str, events: Sequence[Event]) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for event in events:
        operations.append({"create": {"_index": stream}})
        operations.append(event)
    return operations
