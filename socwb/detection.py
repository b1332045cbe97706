"""One detector run: arrival window, queries, episodes to alerts, checkpoint and run record.

A run of any rule kind except silence covers an arrival
window on `event.ingested`, `[checkpoint, now - ingest_delay)`. So an event is
evaluated in the run after it reaches the engine, however late its own
`@timestamp` is:

1. Find the entities that received matching events in the arrival window
   (composite aggregation, paged to the end).
2. For those entities only, fetch event counts per distinct `@timestamp` over
   the event-time ranges around the new events, and slide the rule's window over
   them in Python (`socwb.rules.evaluate.find_episodes`). Baseline rules also
   read the entity's history; new-value rules read the values it showed before.
3. Turn each episode into an alert with a deterministic id, or extend the
   alert of the same episode that an earlier run wrote.

Silence rules instead compare each source's newest `event.ingested` with now.

The checkpoint moves only after the alerts are stored. A failure anywhere
leaves it, so the next run retries the same arrival window, and the
deterministic ids make that retry write nothing twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from socwb.alerts.model import (
    MAX_SAMPLE_IDS,
    Alert,
    EntityValue,
    Evidence,
    alert_id,
    entity_key,
    new_alert,
)
from socwb.alerts.store import AlertStore, AlertWriteError
from socwb.baseline_evaluation import StoredBaselineEvaluator, read_history_buckets
from socwb.baselines import BaselineOptions, BaselineStore
from socwb.catalogue import Catalogue, Source, load_catalogue
from socwb.checkpoints import Checkpoint, CheckpointStore, RunRecord, RunStore, StoredCheckpoint
from socwb.clock_skew import find_skewed_hosts
from socwb.errors import QueryRejectedError, RuleError
from socwb.rules.catalog import MONITORING_DEGRADED
from socwb.rules.evaluate import (
    Activity,
    EntityArrival,
    Episode,
    HistoryBuckets,
    KnownValues,
    Point,
    Silence,
    evaluation_ranges,
    find_baseline_episodes,
    find_episodes,
    find_past_silences,
    find_silences,
    floor_time,
    is_new_value,
    new_value_flags,
    outside_business_hours,
    read_arrival_page,
    read_known_page,
    read_points_page,
    read_timeline_page,
)
from socwb.rules.model import (
    BaselineSpec,
    ClockSkewSpec,
    MatchSpec,
    NewValueSpec,
    Rule,
    SilenceSpec,
    TimeWindow,
    from_epoch_millis,
    iso,
)
from socwb.rules.query import (
    SEARCH_PARAMS,
    EntityKey,
    EvaluationTarget,
    arrival_query,
    episode_query,
    evaluation_query,
    known_values_query,
    silence_query,
    silence_timeline_query,
)
from socwb.search import SearchBackend, check_search_response
from socwb.settings import DetectorSettings, OrganisationSettings
from socwb.suppression_filter import SuppressionFilter, count_suppressed

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""Returns the current time as a timezone-aware UTC datetime."""

RunHook = Callable[[RunRecord], None]
"""Called after a run stored its alerts and before it saves its checkpoint."""

MILLISECOND = timedelta(milliseconds=1)

MAX_UNWRITTEN_FAILURES = 100
"""Failed-run records kept in memory while the engine cannot store them; older ones are dropped."""

# Field types on which terms aggregations work without fielddata.
_AGGREGATABLE_TYPES = frozenset(
    {
        "keyword",
        "constant_keyword",
        "ip",
        "boolean",
        "date",
        "date_nanos",
        "long",
        "integer",
        "short",
        "byte",
        "double",
        "float",
        "half_float",
        "scaled_float",
        "unsigned_long",
    }
)


@dataclass(frozen=True)
class FieldPlan:
    """Indices that share one mapping, and the aggregatable field to use per rule field."""

    indices: str
    fields: Mapping[str, str]


@dataclass
class _Candidate:
    """An episode of one entity, before it is matched with stored alerts.

    Attributes:
        flags: Names of the alert flags its events set.
        evidence: Values that explain the alert, e.g. the baseline it exceeded.
    """

    entity: EntityKey
    episode: Episode
    plan: FieldPlan
    arrival: EntityArrival
    flags: frozenset[str] = frozenset()
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RunState:
    record: RunRecord
    now: datetime
    arrival_end: datetime
    candidates: list[_Candidate] = field(default_factory=list)
    suppressions: SuppressionFilter = field(default_factory=SuppressionFilter)


class Detector:
    """Runs rules against one namespace and keeps no detection state in memory between runs.

    Everything a run needs to continue after a restart (checkpoints, alerts,
    run records) is in the engine, so a new `Detector` object continues where
    the last one stopped.

    Args:
        backend: The engine.
        namespace: Namespace of the log data streams and of the detector's indices.
        clock: Source of the current UTC time.
        settings: Run settings; defaults apply when None.
        catalogue: Log source catalogue for silence rules; the packaged one when None.
        organisation: Time zone and business hours for off-hours rules; UTC and
            the default hours when None.
        after_store: Hook called after the alerts of a run are stored and before
            its checkpoint is saved. An exception it raises fails the run.
    """

    def __init__(
        self,
        backend: SearchBackend,
        namespace: str,
        *,
        clock: Clock,
        settings: DetectorSettings | None = None,
        catalogue: Catalogue | None = None,
        organisation: OrganisationSettings | None = None,
        after_store: RunHook | None = None,
    ) -> None:
        self.backend = backend
        self.namespace = namespace
        self.clock = clock
        self.settings = settings or DetectorSettings()
        self.catalogue = catalogue or load_catalogue()
        self.organisation = organisation or OrganisationSettings()
        self.after_store = after_store
        self.alerts = AlertStore(backend, namespace)
        self.checkpoints = CheckpointStore(backend, namespace)
        self.runs = RunStore(backend, namespace)
        self.baselines = BaselineStore(backend, namespace)
        # Failed-run records the engine did not accept, written again before the next run.
        self.unwritten_failures: list[RunRecord] = []

    def ensure_indices(self) -> None:
        """Create the alerts, checkpoints, runs and baselines indices when they do not exist."""
        self.alerts.ensure_index()
        self.checkpoints.ensure_index()
        self.runs.ensure_index()
        self.baselines.ensure_index()

    def run(self, rule: Rule) -> RunRecord:
        """Run a rule once from its checkpoint and advance the checkpoint on success.

        Returns:
            The run record. `is_backfilled` is true while the rule is catching up
            after downtime; the caller runs it again until it is false.

        Raises:
            WorkbenchError: The run failed. It is recorded as failed (when the
                engine accepts the record) and the checkpoint is left unchanged.
        """
        started = self._now()
        record = RunRecord(run_id=uuid.uuid4().hex, rule_id=rule.id, started_at=started)
        clock_start = time.monotonic()
        try:
            self._write_unwritten_failures()
            stored = self.checkpoints.load(rule.id)
            if isinstance(rule.spec, SilenceSpec):
                self._check_silence(rule, rule.spec, record, stored, started)
            elif isinstance(rule.spec, ClockSkewSpec):
                received = TimeWindow(started - rule.lookback, started)
                self._check_clock_skew(rule, rule.spec, received, record, started)
            else:
                arrival = self._next_arrival(rule, stored, started)
                self._evaluate(rule, arrival, record, started)
            self._report_gap(rule, stored, started, record)
            if self.after_store is not None:
                self.after_store(record)
            self.checkpoints.save(self._advanced(rule, stored, record, started), stored)
        except Exception as exc:
            self._record_failure(record, exc, clock_start)
            raise
        self._finish(record, clock_start)
        return record

    def run_range(self, rule: Rule, arrival: TimeWindow) -> RunRecord:
        """Evaluate a rule over a given arrival window without touching its checkpoint.

        The alerts it writes are flagged `is_backfilled`. Alerts that earlier runs
        wrote for the same episodes are updated, not duplicated.

        A silence rule reads `arrival` as an event-time window instead and
        writes one alert per past gap between events of a source or host
        that was longer than allowed (`_backfill_silence`).

        Raises:
            WorkbenchError: The run failed; it is recorded as failed.
        """
        started = self._now()
        record = RunRecord(run_id=uuid.uuid4().hex, rule_id=rule.id, started_at=started)
        clock_start = time.monotonic()
        try:
            if isinstance(rule.spec, SilenceSpec):
                self._backfill_silence(rule, rule.spec, arrival, record, started)
            elif isinstance(rule.spec, ClockSkewSpec):
                record.is_backfilled = True
                self._check_clock_skew(rule, rule.spec, arrival, record, started)
            else:
                self._evaluate(rule, arrival, record, started, is_backfilled=True)
        except Exception as exc:
            self._record_failure(record, exc, clock_start)
            raise
        self._finish(record, clock_start)
        return record

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() != timedelta(0):
            raise ValueError(f"the detector clock returned {now!r}; it must return aware UTC")
        # The engine stores milliseconds; equal precision keeps ids computed from a
        # stored time equal to ids computed from the time in memory.
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _next_arrival(
        self, rule: Rule, stored: StoredCheckpoint | None, now: datetime
    ) -> TimeWindow:
        start = (
            stored.checkpoint.arrival_end
            if stored is not None
            else now - self.settings.first_run_lookback
        )
        end = max(
            start, min(now - self.settings.ingest_delay, start + self.settings.catch_up_chunk)
        )
        return TimeWindow(start, end)

    def _advanced(
        self, rule: Rule, stored: StoredCheckpoint | None, record: RunRecord, now: datetime
    ) -> Checkpoint:
        first_run_at = stored.checkpoint.first_run_at if stored is not None else now
        return Checkpoint(
            rule_id=rule.id,
            arrival_end=record.arrival_end or now,
            first_run_at=first_run_at,
            last_success_at=now,
            last_run_id=record.run_id,
            updated_at=now,
        )

    def _finish(self, record: RunRecord, clock_start: float) -> None:
        record.finished_at = self._now()
        record.duration_ms = int((time.monotonic() - clock_start) * 1000)
        self.runs.write(record)
        logger.info(
            "run rule=%s run_id=%s window=%s/%s hits=%d buckets=%d alerts=%d updated=%d "
            "suppressed=%d late=%d future=%d backfilled=%s duration_ms=%d",
            record.rule_id,
            record.run_id,
            iso(record.arrival_start) if record.arrival_start else "-",
            iso(record.arrival_end) if record.arrival_end else "-",
            record.hits,
            record.buckets,
            record.alerts_created,
            record.alerts_updated,
            record.suppressed,
            record.late_events,
            record.future_events,
            record.is_backfilled,
            record.duration_ms,
        )

    def _record_failure(self, record: RunRecord, exc: BaseException, clock_start: float) -> None:
        record.outcome = "failed"
        record.error = f"{type(exc).__name__}: {exc}"
        record.finished_at = self.clock()
        record.duration_ms = int((time.monotonic() - clock_start) * 1000)
        logger.error(
            "run failed rule=%s run_id=%s error=%s",
            record.rule_id,
            record.run_id,
            record.error,
            exc_info=exc,
        )
        try:
            self.runs.write(record)
        except Exception:  # noqa: BLE001 - the engine may be the failure; the log keeps it
            logger.exception(
                "run record not written rule=%s run_id=%s; writing it before the next run",
                record.rule_id,
                record.run_id,
            )
            self.unwritten_failures.append(record)
            if len(self.unwritten_failures) > MAX_UNWRITTEN_FAILURES:
                dropped = self.unwritten_failures.pop(0)
                logger.warning(
                    "run record dropped rule=%s run_id=%s; more than %d failed runs unwritten",
                    dropped.rule_id,
                    dropped.run_id,
                    MAX_UNWRITTEN_FAILURES,
                )

    def _write_unwritten_failures(self) -> None:
        """Write the failed-run records that the engine did not accept earlier."""
        while self.unwritten_failures:
            record = self.unwritten_failures[0]
            self.runs.write(record)
            self.unwritten_failures.pop(0)
            logger.info("late run record written rule=%s run_id=%s", record.rule_id, record.run_id)

    # Threshold and match rules -------------------------------------------------

    def _evaluate(
        self,
        rule: Rule,
        arrival: TimeWindow,
        record: RunRecord,
        now: datetime,
        *,
        is_backfilled: bool | None = None,
    ) -> None:
        record.arrival_start, record.arrival_end = arrival.start, arrival.end
        live_end = now - self.settings.ingest_delay - rule.interval
        record.is_backfilled = (
            is_backfilled if is_backfilled is not None else arrival.end < live_end
        )
        state = _RunState(record=record, now=now, arrival_end=arrival.end)
        if arrival.length > timedelta(0):
            for plan in self._field_plans(rule):
                arrivals = self._arrivals(rule, plan, arrival, state)
                self._collect_episodes(rule, plan, arrivals, state)
        self._store_candidates(rule, state)

    def _field_plans(self, rule: Rule) -> list[FieldPlan]:
        pattern = rule.index_pattern(self.namespace)
        names = list(rule.entity_fields)
        if rule.point_value_field is not None:
            names.append(rule.point_value_field)
        if isinstance(rule.spec, NewValueSpec):
            names.extend(rule.spec.flag_fields.values())
        return resolve_field_plans(self.backend, rule.id, pattern, names)

    def _arrivals(
        self, rule: Rule, plan: FieldPlan, arrival: TimeWindow, state: _RunState
    ) -> list[EntityArrival]:
        arrivals: list[EntityArrival] = []
        after: Mapping[str, Any] | None = None
        is_first_page = True
        while True:
            body = arrival_query(
                rule,
                arrival,
                now=state.now,
                future_tolerance=self.settings.future_tolerance,
                fields=plan.fields,
                after=after,
                page_size=self.settings.page_size,
            )
            response = self.backend.search(plan.indices, body, **SEARCH_PARAMS)
            aggregations = response.get("aggregations")
            if aggregations is None:
                return arrivals
            if is_first_page:
                state.record.hits += int(response["hits"]["total"]["value"])
                state.record.late_events += int(aggregations["late"]["doc_count"])
                state.record.future_events += int(aggregations["future"]["doc_count"])
                is_first_page = False
            page, after = read_arrival_page(rule, aggregations)
            arrivals.extend(page)
            if after is None:
                state.record.buckets += len(arrivals)
                return arrivals

    def _collect_episodes(
        self, rule: Rule, plan: FieldPlan, arrivals: Sequence[EntityArrival], state: _RunState
    ) -> None:
        if isinstance(rule.spec, NewValueSpec):
            self._collect_new_values(rule, rule.spec, plan, arrivals, state)
            return
        by_entity = {item.entity: item for item in arrivals}
        targets = [
            EvaluationTarget(item.entity, evaluation_ranges(item.slot_starts, rule.lookback))
            for item in arrivals
        ]
        size = self.settings.targets_per_query
        for offset in range(0, len(targets), size):
            batch = targets[offset : offset + size]
            points = self._points(rule, plan, batch, state.arrival_end)
            self._widen_event_window(state.record, batch)
            if isinstance(rule.spec, BaselineSpec):
                batch_arrivals = [by_entity[target.entity] for target in batch]
                self._collect_baseline_episodes(rule, plan, batch_arrivals, points, state)
                continue
            for entity, entity_points in sorted(points.items(), key=lambda item: str(item[0])):
                arrival = by_entity[entity]
                selected = self._select_points(rule, entity_points)
                for episode in find_episodes(selected, rule):
                    state.candidates.append(
                        _Candidate(
                            entity, episode, plan, arrival, arrival.flags, dict(episode.evidence)
                        )
                    )

    def _collect_baseline_episodes(
        self,
        rule: Rule,
        plan: FieldPlan,
        arrivals: Sequence[EntityArrival],
        points: Mapping[EntityKey, list[Point]],
        state: _RunState,
    ) -> None:
        """Add one candidate per episode above the baseline of the history before its slot."""
        if isinstance(rule.spec, BaselineSpec) and rule.spec.is_stored:
            self._collect_stored_baseline_episodes(rule, plan, arrivals, points, state)
            return
        history = self._history_buckets(rule, plan, arrivals, state)
        for arrival in sorted(arrivals, key=lambda item: str(item.entity)):
            entity_points = points.get(arrival.entity, [])
            buckets = history.get(arrival.entity, [])
            for episode, baseline in find_baseline_episodes(
                entity_points, rule, arrival.slot_starts, buckets
            ):
                evidence = {**episode.evidence, **baseline.evidence(episode.peak)}
                state.candidates.append(
                    _Candidate(arrival.entity, episode, plan, arrival, arrival.flags, evidence)
                )

    def _collect_stored_baseline_episodes(
        self,
        rule: Rule,
        plan: FieldPlan,
        arrivals: Sequence[EntityArrival],
        points: Mapping[EntityKey, list[Point]],
        state: _RunState,
    ) -> None:
        """Add one candidate per episode above the entity's stored baseline (`socwb.baselines`)."""
        options = BaselineOptions(
            window=self.settings.baseline_window,
            min_span=self.settings.baseline_min_span,
            refresh=self.settings.baseline_refresh,
        )
        evaluator = StoredBaselineEvaluator(self.backend, self.baselines, options)
        found = evaluator.episodes(
            rule,
            indices=plan.indices,
            fields=plan.fields,
            arrivals=arrivals,
            points=points,
            arrival_end=state.arrival_end,
            now=state.now,
        )
        for item in found:
            state.candidates.append(
                _Candidate(
                    item.arrival.entity,
                    item.episode,
                    plan,
                    item.arrival,
                    item.arrival.flags,
                    item.evidence,
                )
            )

    def _select_points(self, rule: Rule, points: list[Point]) -> list[Point]:
        # NOTE: the alert's count is recounted over its whole span, so an
        # episode that runs into business hours also counts events inside them.
        if isinstance(rule.spec, MatchSpec) and rule.spec.only_outside_business_hours:
            return outside_business_hours(points, self.organisation)
        return points

    def _history_buckets(
        self,
        rule: Rule,
        plan: FieldPlan,
        arrivals: Sequence[EntityArrival],
        state: _RunState,
    ) -> HistoryBuckets:
        """Read each entity's history buckets up to its last new slot.

        The range starts `history` before the entity's first new slot, so every
        slot's baseline can be computed from it.
        """
        if not isinstance(rule.spec, BaselineSpec):
            raise ValueError(f"rule {rule.id!r} is not a baseline rule")
        history = rule.spec.history
        targets = [
            EvaluationTarget(
                item.entity,
                (TimeWindow(min(item.slot_starts) - history, max(item.slot_starts)),),
            )
            for item in arrivals
            if item.slot_starts
        ]
        return read_history_buckets(
            self.backend,
            rule,
            indices=plan.indices,
            fields=plan.fields,
            targets=targets,
            arrival_end=state.arrival_end,
        )

    def _collect_new_values(
        self,
        rule: Rule,
        spec: NewValueSpec,
        plan: FieldPlan,
        arrivals: Sequence[EntityArrival],
        state: _RunState,
    ) -> None:
        """Add one candidate per entity and value that the entity's history lacks."""
        targets = _history_targets(rule, spec, arrivals)
        known = self._known_values(rule, spec.value_field, plan, targets, state)
        known_flags = [
            self._known_values(rule, name, plan, targets, state)
            for name in spec.flag_fields.values()
        ]
        for arrival in arrivals:
            if arrival.first_event is None or arrival.last_event is None:
                continue
            if not is_new_value(rule, arrival, known):
                continue
            episode = Episode(
                arrival.first_event, arrival.last_event, arrival.new_events, arrival.new_events
            )
            flags = new_value_flags(rule, arrival, known_flags)
            state.candidates.append(_Candidate(arrival.entity, episode, plan, arrival, flags))

    def _known_values(
        self,
        rule: Rule,
        field_name: str,
        plan: FieldPlan,
        targets: Sequence[EvaluationTarget],
        state: _RunState,
    ) -> KnownValues:
        known: KnownValues = {}
        after: Mapping[str, Any] | None = None
        size = self.settings.targets_per_query
        for offset in range(0, len(targets), size):
            batch = targets[offset : offset + size]
            while True:
                body = known_values_query(
                    rule,
                    field_name,
                    batch,
                    arrival_end=state.arrival_end,
                    fields=plan.fields,
                    after=after,
                    page_size=self.settings.page_size,
                )
                response = self.backend.search(plan.indices, body, **SEARCH_PARAMS)
                if response.get("aggregations") is None:
                    break
                page, after = read_known_page(rule, response["aggregations"])
                for group, values in page.items():
                    known.setdefault(group, {}).update(values)
                if after is None:
                    break
        return known

    def _points(
        self,
        rule: Rule,
        plan: FieldPlan,
        targets: Sequence[EvaluationTarget],
        arrival_end: datetime,
    ) -> dict[EntityKey, list[Point]]:
        points: dict[EntityKey, list[Point]] = {}
        for batch in split_by_clauses(targets, len(rule.entity_fields)):
            self._points_of_batch(rule, plan, batch, arrival_end, points)
        for entity_points in points.values():
            entity_points.sort(key=lambda point: point.timestamp_ms)
        return points

    def _points_of_batch(
        self,
        rule: Rule,
        plan: FieldPlan,
        targets: Sequence[EvaluationTarget],
        arrival_end: datetime,
        points: dict[EntityKey, list[Point]],
    ) -> None:
        after: Mapping[str, Any] | None = None
        while True:
            body = evaluation_query(
                rule,
                targets,
                arrival_end=arrival_end,
                fields=plan.fields,
                after=after,
                page_size=self.settings.page_size,
            )
            response = self.backend.search(plan.indices, body, **SEARCH_PARAMS)
            if response.get("aggregations") is None:
                return
            page, after = read_points_page(rule, response["aggregations"])
            for entity, entity_points in page.items():
                points.setdefault(entity, []).extend(entity_points)
            if after is None:
                return

    @staticmethod
    def _widen_event_window(record: RunRecord, targets: Sequence[EvaluationTarget]) -> None:
        for target in targets:
            for window in target.ranges:
                if record.event_start is None or window.start < record.event_start:
                    record.event_start = window.start
                if record.event_end is None or window.end > record.event_end:
                    record.event_end = window.end

    # Alerts --------------------------------------------------------------------

    def _store_candidates(self, rule: Rule, state: _RunState) -> None:
        if not state.candidates:
            return
        keys = {self._entity_key(rule, item.entity) for item in state.candidates}
        since = min(item.episode.first_event for item in state.candidates) - rule.lookback
        stored = self.alerts.find_recent(rule.id, keys, since)
        state.suppressions = SuppressionFilter.load(self.backend, self.namespace, state.now)
        new_alerts: dict[str, Alert] = {}
        updated: dict[str, Alert] = {}
        for candidate in state.candidates:
            self._place_candidate(rule, candidate, state, stored, new_alerts, updated)
        state.suppressions.mark(new_alerts)
        self._count_events(rule, list(new_alerts.values()), state)
        follow_ups: dict[str, Alert] = {}
        for existing_id in self.alerts.create_many(list(new_alerts.values())):
            alert = new_alerts.pop(existing_id)
            stored_alert = self._read_stored(existing_id)
            if state.suppressions.is_settled(stored_alert):
                follow_up = _follow_up(alert, stored_alert.id, state, rule)
                follow_ups[follow_up.id] = follow_up
            else:
                updated[existing_id] = _merge(stored_alert, alert, state.now)
        state.suppressions.mark(follow_ups)
        for existing_id in self.alerts.create_many(list(follow_ups.values())):
            follow_up = follow_ups.pop(existing_id)
            updated[existing_id] = _merge(self._read_stored(existing_id), follow_up, state.now)
        new_alerts.update(follow_ups)
        self._count_events(rule, list(updated.values()), state)
        self.alerts.update_many(list(updated.values()))
        self.alerts.refresh()
        suppressed = count_suppressed(state.record, list(new_alerts.values()))
        state.record.alerts_created += len(new_alerts) - suppressed
        state.record.alerts_updated += len(updated)

    def _entity_values(self, rule: Rule, entity: EntityKey) -> list[EntityValue]:
        return [
            EntityValue(field=name, value=value)
            for name, value in zip(rule.entity_fields, entity, strict=True)
        ]

    def _entity_key(self, rule: Rule, entity: EntityKey) -> str:
        return entity_key(self._entity_values(rule, entity))

    def _place_candidate(
        self,
        rule: Rule,
        candidate: _Candidate,
        state: _RunState,
        stored: dict[str, list[Alert]],
        new_alerts: dict[str, Alert],
        updated: dict[str, Alert],
    ) -> None:
        """Extend the stored or new alert of the same episode, or start a new alert."""
        key = self._entity_key(rule, candidate.entity)
        episode = candidate.episode
        # A closed alert stays closed: activity after it opens a follow-up alert.
        # So does an alert whose suppression is no longer active.
        open_stored = [
            alert for alert in stored.get(key, []) if not state.suppressions.is_settled(alert)
        ]
        pool = [*updated.values(), *new_alerts.values(), *open_stored]
        for alert in pool:
            if alert.entity_key == key and _continues(alert, episode, rule.lookback):
                merged = _extend(alert, episode, candidate, state.now)
                target = new_alerts if alert.id in new_alerts else updated
                target[alert.id] = merged
                return
        alert = self._new_alert(rule, candidate, state)
        new_alerts[alert.id] = alert

    def _new_alert(self, rule: Rule, candidate: _Candidate, state: _RunState) -> Alert:
        episode = candidate.episode
        buckets = {
            "peak": episode.peak,
            "window_seconds": rule.lookback.total_seconds(),
            **candidate.evidence,
        }
        return new_alert(
            rule,
            self._entity_values(rule, candidate.entity),
            id_time=floor_time(episode.first_event, rule.lookback),
            first_event=episode.first_event,
            last_event=episode.last_event,
            now=state.now,
            run_id=state.record.run_id,
            count=episode.count,
            evidence=Evidence(buckets=buckets, index=candidate.plan.indices),
            flags={name: name in candidate.flags for name in _flag_names(rule)},
            is_backfilled=state.record.is_backfilled,
            is_late=candidate.arrival.late_events > 0,
        )

    def _read_stored(self, alert_id_: str) -> Alert:
        """Read an alert that a create reported as existing (the look-up missed it)."""
        stored = self.alerts.get(alert_id_)
        if stored is None:
            raise AlertWriteError(
                f"alert {alert_id_} in {self.alerts.index} was reported as existing but "
                "cannot be read; the run fails and is retried"
            )
        return stored

    def _count_events(self, rule: Rule, alerts: Sequence[Alert], state: _RunState) -> None:
        """Set each alert's count, sample ids and reopening query from one search per alert.

        The count covers every event of the entity between the alert's first and
        last event that has arrived by now, including those of earlier runs.
        """
        if not alerts:
            return
        lines: list[Mapping[str, Any]] = []
        bodies = []
        for alert in alerts:
            entity = tuple(item.value for item in alert.entity)
            span = TimeWindow(alert.first_event, alert.last_event + MILLISECOND)
            fields = self._plan_fields(state, alert)
            body = episode_query(
                rule,
                entity,
                span,
                arrival_end=state.now,
                fields=fields,
                sample_size=MAX_SAMPLE_IDS,
            )
            lines.extend(({"index": alert.evidence.index, "ignore_unavailable": True}, body))
            bodies.append(body)
        responses = _multi_search(self.backend, lines)
        for alert, body, response in zip(alerts, bodies, responses, strict=True):
            alert.count = int(response["hits"]["total"]["value"])
            alert.evidence.sample_ids = [str(hit["_id"]) for hit in response["hits"]["hits"]]
            alert.evidence.query = json.dumps(body, sort_keys=True)

    @staticmethod
    def _plan_fields(state: _RunState, alert: Alert) -> Mapping[str, str]:
        for candidate in state.candidates:
            if candidate.plan.indices == alert.evidence.index:
                return candidate.plan.fields
        return {}

    # Monitoring health -------------------------------------------------------

    def _report_gap(
        self, rule: Rule, stored: StoredCheckpoint | None, now: datetime, record: RunRecord
    ) -> None:
        """Write a monitoring-degraded alert when no run of this rule succeeded for too long."""
        if stored is None:
            return
        last_success = stored.checkpoint.last_success_at
        allowed = max(self.settings.degraded_after, 2 * rule.interval)
        if now - last_success <= allowed:
            return
        buckets = {
            "rule_id": rule.id,
            "last_success_at": iso(last_success),
            "gap_seconds": (now - last_success).total_seconds(),
        }
        alert = new_alert(
            MONITORING_DEGRADED,
            [EntityValue(field="rule.id", value=rule.id)],
            id_time=last_success,
            first_event=last_success,
            last_event=now,
            now=now,
            run_id=record.run_id,
            evidence=Evidence(buckets=buckets),
            rule_name=f"{MONITORING_DEGRADED.name}: {rule.name}",
        )
        if not self.alerts.create_many([alert]):
            record.alerts_created += 1
        logger.warning(
            "monitoring gap rule=%s last_success=%s gap_s=%d",
            rule.id,
            iso(last_success),
            (now - last_success).total_seconds(),
        )

    # Clock skew ----------------------------------------------------------------

    def _check_clock_skew(
        self,
        rule: Rule,
        spec: ClockSkewSpec,
        received: TimeWindow,
        record: RunRecord,
        now: datetime,
    ) -> None:
        """Write or extend one alert per host whose events received in `received` are skewed."""
        record.arrival_start, record.arrival_end = received.start, received.end
        state = _RunState(record=record, now=now, arrival_end=received.end)
        for finding in find_skewed_hosts(
            self.backend, self.catalogue, self.namespace, spec, received
        ):
            entity = (finding.host,)
            arrival = EntityArrival(entity, finding.skew.events, 0, ())
            plan = FieldPlan(finding.pattern, {})
            episode = finding.episode(received)
            evidence = finding.evidence()
            state.candidates.append(_Candidate(entity, episode, plan, arrival, evidence=evidence))
        record.buckets += len(state.candidates)
        self._store_candidates(rule, state)

    # Silence -------------------------------------------------------------------

    def _check_silence(
        self,
        rule: Rule,
        spec: SilenceSpec,
        record: RunRecord,
        stored: StoredCheckpoint | None,
        now: datetime,
    ) -> None:
        """Write one alert per silent source or host and gap; a failed query raises instead."""
        first_run_at = stored.checkpoint.first_run_at if stored is not None else now
        record.arrival_start = stored.checkpoint.arrival_end if stored is not None else now
        record.arrival_end = now
        silences: list[Silence] = []
        for source in self.catalogue.sources:
            pattern = source.data_stream_pattern(self.namespace)
            last, hosts = self._last_ingested(spec, pattern, now)
            record.buckets += 1 + len(hosts)
            silences.extend(
                find_silences(
                    source, last_ingested=last, hosts=hosts, now=now, first_run_at=first_run_at
                )
            )
        self._store_silences(rule, silences, record, now)

    def _store_silences(
        self, rule: Rule, silences: Sequence[Silence], record: RunRecord, now: datetime
    ) -> None:
        built = [self._silence_alert(rule, silence, record, now) for silence in silences]
        by_id = {alert.id: alert for alert in built}
        if by_id:
            # NOTE: a gap that outlasts its suppression stays in the suppressed alert.
            SuppressionFilter.load(self.backend, self.namespace, now).mark(by_id)
        alerts = list(by_id.values())
        existing = set(self.alerts.create_many(alerts))
        self.alerts.update_many([alert for alert in alerts if alert.id in existing])
        self.alerts.refresh()
        suppressed = count_suppressed(record, [a for a in alerts if a.id not in existing])
        record.alerts_created += len(alerts) - len(existing) - suppressed
        record.alerts_updated += len(existing)

    def _backfill_silence(
        self, rule: Rule, spec: SilenceSpec, window: TimeWindow, record: RunRecord, now: datetime
    ) -> None:
        """Write one alert per past gap in the event timeline of a source or host."""
        record.arrival_start, record.arrival_end = window.start, window.end
        record.event_start, record.event_end = window.start, window.end
        record.is_backfilled = True
        silences: list[Silence] = []
        for source in self.catalogue.sources:
            activity = self._event_timeline(spec, source, window)
            record.buckets += sum(len(spans) for spans in activity.values())
            silences.extend(find_past_silences(source, activity))
        self._store_silences(rule, silences, record, now)

    def _event_timeline(self, spec: SilenceSpec, source: Source, window: TimeWindow) -> Activity:
        # A slot no longer than the smallest allowed silence keeps every longer
        # gap between two slots (see `silence_timeline_query`).
        allowed = [source.max_silence(), *map(source.max_silence, source.host_max_silence_seconds)]
        interval = max(min(allowed), timedelta(minutes=1))
        pattern = source.data_stream_pattern(self.namespace)
        activity: Activity = {}
        after: Mapping[str, Any] | None = None
        while True:
            body = silence_timeline_query(
                spec.host_field,
                window,
                interval=interval,
                after=after,
                page_size=self.settings.page_size,
            )
            response = self.backend.search(pattern, body, **SEARCH_PARAMS)
            if response.get("aggregations") is None:
                return activity
            page, after = read_timeline_page(response["aggregations"])
            for host, spans in page.items():
                activity.setdefault(host, []).extend(spans)
            if after is None:
                return activity

    def _last_ingested(
        self, spec: SilenceSpec, pattern: str, now: datetime
    ) -> tuple[datetime | None, dict[str, datetime]]:
        hosts: dict[str, datetime] = {}
        last: datetime | None = None
        after: Mapping[str, Any] | None = None
        while True:
            body = silence_query(
                spec.host_field,
                now=now,
                host_horizon=spec.host_horizon,
                after=after,
                page_size=self.settings.page_size,
            )
            response = self.backend.search(pattern, body, **SEARCH_PARAMS)
            aggregations = response.get("aggregations")
            if aggregations is None:
                return last, hosts
            value = aggregations["last_ingested"].get("value")
            last = None if value is None else from_epoch_millis(value)
            composite = aggregations["recent"]["hosts"]
            for bucket in composite["buckets"]:
                hosts[str(bucket["key"]["host"])] = from_epoch_millis(
                    bucket["last_ingested"]["value"]
                )
            after = composite.get("after_key") if composite["buckets"] else None
            if after is None:
                return last, hosts

    def _silence_alert(
        self, rule: Rule, silence: Silence, record: RunRecord, now: datetime
    ) -> Alert:
        entity = [EntityValue(field="source", value=silence.source)]
        if silence.host is not None:
            entity.append(EntityValue(field="host.name", value=silence.host))
        gap_end = silence.gap_end or now
        buckets = {
            "last_ingested": None if silence.has_never_sent else iso(silence.gap_start),
            "silence_seconds": (gap_end - silence.gap_start).total_seconds(),
            "max_silence_seconds": silence.max_silence.total_seconds(),
            "has_never_sent": silence.has_never_sent,
        }
        index = self.catalogue.source(silence.source).data_stream_pattern(self.namespace)
        return new_alert(
            rule,
            entity,
            id_time=silence.gap_start,
            first_event=silence.gap_start,
            last_event=silence.gap_end or silence.gap_start,
            now=now,
            run_id=record.run_id,
            evidence=Evidence(buckets=buckets, index=index),
            is_backfilled=record.is_backfilled,
        )


def _merge(stored: Alert, alert: Alert, now: datetime) -> Alert:
    """Merge a new alert of the same episode into the stored one, keeping its status."""
    flags = {name: stored.flags.get(name, False) or value for name, value in alert.flags.items()}
    return stored.model_copy(
        update={
            "first_event": min(stored.first_event, alert.first_event),
            "last_event": max(stored.last_event, alert.last_event),
            "last_seen": now,
            "updated_at": now,
            "flags": flags,
            "is_late": stored.is_late or alert.is_late,
            "evidence": alert.evidence,
        }
    )


def _follow_up(alert: Alert, closed_id: str, state: _RunState, rule: Rule) -> Alert:
    """Return the alert under a new id, for activity that continues an analyst-closed alert.

    The id comes from the closed alert's id, so a retried run finds the same
    follow-up instead of writing another.
    """
    key = f"{alert.entity_key} after {closed_id}"
    return alert.model_copy(update={"id": alert_id(rule.id, key, alert.first_event)})


def _flag_names(rule: Rule) -> list[str]:
    names = list(rule.flags)
    if isinstance(rule.spec, NewValueSpec):
        names.extend(rule.spec.flag_fields)
    return names


def _history_targets(
    rule: Rule, spec: NewValueSpec, arrivals: Sequence[EntityArrival]
) -> list[EvaluationTarget]:
    """Return per group-by entity the history range before its latest new first event."""
    spans: dict[EntityKey, tuple[datetime, datetime]] = {}
    for arrival in arrivals:
        if arrival.first_event is None:
            continue
        group = arrival.entity[: len(rule.group_by)]
        earliest, latest = spans.get(group, (arrival.first_event, arrival.first_event))
        spans[group] = (min(earliest, arrival.first_event), max(latest, arrival.first_event))
    return [
        EvaluationTarget(group, (TimeWindow(earliest - spec.history, latest),))
        for group, (earliest, latest) in sorted(spans.items(), key=lambda item: str(item[0]))
    ]


def _continues(alert: Alert, episode: Episode, lookback: timedelta) -> bool:
    """Return whether an episode overlaps an alert's events or follows them within lookback."""
    return (
        alert.last_event > episode.first_event - lookback
        and alert.first_event < episode.last_event + lookback
    )


def _extend(alert: Alert, episode: Episode, candidate: _Candidate, now: datetime) -> Alert:
    peak = max(float(alert.evidence.buckets.get("peak", 0)), episode.peak)
    buckets = {**alert.evidence.buckets, "peak": peak}
    baseline = buckets.get("baseline")
    if "current" in buckets:
        buckets["current"] = peak
    if isinstance(baseline, int | float) and baseline > 0:
        buckets["ratio"] = round(peak / baseline, 2)
    evidence = alert.evidence.model_copy(update={"buckets": buckets})
    flags = {name: value or name in candidate.flags for name, value in alert.flags.items()}
    return alert.model_copy(
        update={
            "first_event": min(alert.first_event, episode.first_event),
            "last_event": max(alert.last_event, episode.last_event),
            "last_seen": now,
            "updated_at": now,
            "flags": flags,
            "is_late": alert.is_late or candidate.arrival.late_events > 0,
            "evidence": evidence,
        },
        deep=True,
    )


def _multi_search(
    backend: SearchBackend, lines: Sequence[Mapping[str, Any]], batch: int = 100
) -> list[dict[str, Any]]:
    """Send header and body pairs as `_msearch` requests and check every response.

    Raises:
        PartialResultsError: A search timed out or had shard failures.
        QueryRejectedError: A search was rejected.
    """
    responses: list[dict[str, Any]] = []
    for offset in range(0, len(lines), 2 * batch):
        chunk = lines[offset : offset + 2 * batch]
        payload = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in chunk)
        answer = backend.request("POST", "/_msearch", body=payload)
        for header, response in zip(chunk[0::2], answer["responses"], strict=True):
            if "error" in response:
                raise QueryRejectedError(
                    f"search on {header['index']!r} was rejected: {response['error']}",
                    status=response.get("status"),
                )
            responses.append(check_search_response(response, index=str(header["index"])))
    return responses


def resolve_field_plans(
    backend: SearchBackend, rule_id: str, pattern: str, names: Sequence[str]
) -> list[FieldPlan]:
    """Find an aggregatable field for each rule field, per index behind `pattern`.

    A field mapped as `keyword` (or another aggregatable type) is used as it is.
    A field mapped as `text` is replaced by its `keyword` sub-field. Indices that
    need different replacements get separate plans, so one run covers both.

    Raises:
        RuleError: An index maps a field as text without a keyword sub-field, so
            grouping on it would fail. The message names the index and the field.
    """
    if not names:
        return [FieldPlan(pattern, {})]
    requested = ",".join(sorted({*names, *(f"{name}.keyword" for name in names)}))
    path = f"/{pattern}/_mapping/field/{requested}"
    try:
        mappings = (
            backend.request("GET", path, params={"ignore_unavailable": "true", **SEARCH_PARAMS})
            or {}
        )
    except QueryRejectedError as exc:
        # No index matches the pattern yet, so there is nothing to group either.
        if exc.status != 404:
            raise
        mappings = {}
    plans: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for index, found in sorted(mappings.items()):
        fields = found.get("mappings", {})
        choice = tuple((name, _aggregatable(rule_id, index, name, fields)) for name in names)
        plans.setdefault(choice, []).append(index)
    if len(plans) <= 1:
        choice = next(iter(plans), tuple((name, name) for name in names))
        return [FieldPlan(pattern, dict(choice))]
    return [FieldPlan(",".join(indices), dict(choice)) for choice, indices in plans.items()]


def _aggregatable(rule_id: str, index: str, name: str, fields: Mapping[str, Any]) -> str:
    mapping = _leaf_type(fields, name)
    if mapping is None or mapping in _AGGREGATABLE_TYPES:
        return name
    if _leaf_type(fields, f"{name}.keyword") == "keyword":
        return f"{name}.keyword"
    raise RuleError(
        f"rule {rule_id!r} groups on {name!r}, which index {index!r} maps as {mapping!r} "
        f"without a keyword sub-field: map {name!r} as keyword in that index, or add a "
        f"{name}.keyword sub-field and reindex"
    )


def _leaf_type(fields: Mapping[str, Any], name: str) -> str | None:
    entry = fields.get(name)
    if not entry:
        return None
    leaf = name.rsplit(".", 1)[-1]
    mapping = entry.get("mapping", {}).get(leaf, {})
    kind = mapping.get("type")
    return None if kind is None else str(kind)


# Lucene rejects a query with more than 1024 clauses (indices.query.bool.max_clause_count
# on OpenSearch 2.x); a long backfill gives one entity many event-time ranges.
MAX_QUERY_CLAUSES = 300


def split_by_clauses(
    targets: Sequence[EvaluationTarget], fields_per_entity: int, budget: int = MAX_QUERY_CLAUSES
) -> list[list[EvaluationTarget]]:
    """Split targets into batches whose step 2 query stays under the clause limit.

    A target with more ranges than fit in one batch is split into several
    targets of the same entity, each with a chronological share of the ranges.
    """
    ranges_per_target = max(1, budget - fields_per_entity - 1)
    units = [
        EvaluationTarget(target.entity, target.ranges[start : start + ranges_per_target])
        for target in targets
        for start in range(0, max(1, len(target.ranges)), ranges_per_target)
    ]
    batches: list[list[EvaluationTarget]] = []
    used = budget
    for unit in units:
        cost = fields_per_entity + len(unit.ranges) + 1
        if used + cost > budget:
            batches.append([])
            used = 0
        batches[-1].append(unit)
        used += cost
    return batches
