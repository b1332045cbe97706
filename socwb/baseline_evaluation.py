"""Evaluate rules with stored baselines: read or compute each slot's baseline, then find episodes.

For every new slot of an entity the detector needs the baseline whose window
ends at the slot's refresh boundary (`socwb.baselines.window_end_for`). Stored
documents are read in one `_mget`. Missing or outdated ones are computed from
one history query per batch of entities, and written before they are used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socwb.alerts.model import entity_key
from socwb.baselines import (
    BaselineOptions,
    BaselineStore,
    StoredBaseline,
    baseline_id,
    compute_baseline,
    entity_values,
    window_end_for,
)
from socwb.rules.evaluate import (
    EntityArrival,
    Episode,
    HistoryBuckets,
    Point,
    find_slot_episodes,
    read_history_page,
)
from socwb.rules.model import BaselineSpec, Rule, TimeWindow, iso
from socwb.rules.query import SEARCH_PARAMS, EntityKey, EvaluationTarget, baseline_query
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaselineEpisode:
    """An episode above a stored baseline, with the evidence that the alert shows."""

    arrival: EntityArrival
    episode: Episode
    evidence: dict[str, Any]


def read_history_buckets(
    backend: SearchBackend,
    rule: Rule,
    *,
    indices: str,
    fields: Mapping[str, str],
    targets: Sequence[EvaluationTarget],
    arrival_end: datetime,
) -> HistoryBuckets:
    """Read the `lookback`-wide history buckets of each target over its ranges, every page."""
    buckets: HistoryBuckets = {}
    after: Mapping[str, Any] | None = None
    while targets:
        body = baseline_query(rule, targets, arrival_end=arrival_end, fields=fields, after=after)
        response = backend.search(indices, body, **SEARCH_PARAMS)
        if response.get("aggregations") is None:
            break
        page, after = read_history_page(rule, response["aggregations"])
        for entity, items in page.items():
            buckets.setdefault(entity, []).extend(items)
        if after is None:
            break
    return buckets


class StoredBaselineEvaluator:
    """Finds the episodes of one rule's entities above their stored baselines.

    Args:
        backend: The engine.
        store: The namespace's baseline documents.
        options: Window, warm-up and refresh of the baselines.
    """

    def __init__(
        self, backend: SearchBackend, store: BaselineStore, options: BaselineOptions
    ) -> None:
        self.backend = backend
        self.store = store
        self.options = options

    def episodes(
        self,
        rule: Rule,
        *,
        indices: str,
        fields: Mapping[str, str],
        arrivals: Sequence[EntityArrival],
        points: Mapping[EntityKey, list[Point]],
        arrival_end: datetime,
        now: datetime,
    ) -> list[BaselineEpisode]:
        """Return the episodes above the baseline of their slot, in entity order.

        An entity whose baseline is still warming up yields nothing, and one log
        line per entity and run reports it.

        Raises:
            BaselineWriteError: A computed baseline could not be stored.
        """
        spec = _baseline_spec(rule)
        baselines = self._baselines(rule, spec, indices, fields, arrivals, arrival_end, now)
        found: list[BaselineEpisode] = []
        for arrival in sorted(arrivals, key=lambda item: str(item.entity)):
            slots = sorted(set(arrival.slot_starts))
            stored = {slot: baselines[self._id(rule, arrival.entity, slot)] for slot in slots}
            self._log_warm_up(rule, arrival, [stored[slot] for slot in slots])
            evaluated = [(slot, stored[slot].baseline_at(slot, spec)) for slot in slots]
            entity_points = points.get(arrival.entity, [])
            for slot, episode, baseline in find_slot_episodes(entity_points, rule, evaluated):
                evidence = {
                    **episode.evidence,
                    **baseline.evidence(episode.peak),
                    **stored[slot].evidence(slot),
                }
                found.append(BaselineEpisode(arrival, episode, evidence))
        return found

    def _id(self, rule: Rule, entity: EntityKey, slot: datetime) -> str:
        key = entity_key(entity_values(rule, entity))
        return baseline_id(rule.id, key, window_end_for(slot, self.options))

    def _baselines(
        self,
        rule: Rule,
        spec: BaselineSpec,
        indices: str,
        fields: Mapping[str, str],
        arrivals: Sequence[EntityArrival],
        arrival_end: datetime,
        now: datetime,
    ) -> dict[str, StoredBaseline]:
        """Return every baseline the arrivals' slots read, computing the missing ones."""
        requested: dict[str, tuple[EntityKey, datetime]] = {}
        for arrival in arrivals:
            for slot in arrival.slot_starts:
                end = window_end_for(slot, self.options)
                requested[self._id(rule, arrival.entity, slot)] = (arrival.entity, end)
        stored = self.store.get_many(sorted(requested))
        outdated = {
            doc_id: pair
            for doc_id, pair in requested.items()
            if doc_id not in stored or not stored[doc_id].is_current(self.options, spec)
        }
        if not outdated:
            return stored

        history = read_history_buckets(
            self.backend,
            rule,
            indices=indices,
            fields=fields,
            targets=self._history_targets(outdated.values()),
            arrival_end=arrival_end,
        )
        computed = [
            compute_baseline(
                rule,
                entity_values(rule, entity),
                history.get(entity, []),
                window_end=end,
                options=self.options,
                computed_at=now,
            )
            for entity, end in outdated.values()
        ]
        self.store.write_many(computed)
        logger.info(
            "baselines computed rule=%s documents=%d reused=%d index=%s",
            rule.id,
            len(computed),
            len(stored),
            self.store.index,
        )
        return {**stored, **{baseline.id: baseline for baseline in computed}}

    def _history_targets(
        self, pairs: Iterable[tuple[EntityKey, datetime]]
    ) -> list[EvaluationTarget]:
        """Return per entity one range that contains the windows of all its window ends."""
        spans: dict[EntityKey, tuple[datetime, datetime]] = {}
        for entity, end in pairs:
            earliest, latest = spans.get(entity, (end, end))
            spans[entity] = (min(earliest, end), max(latest, end))
        return [
            EvaluationTarget(entity, (TimeWindow(earliest - self.options.window, latest),))
            for entity, (earliest, latest) in sorted(spans.items(), key=lambda item: str(item[0]))
        ]

    @staticmethod
    def _log_warm_up(
        rule: Rule, arrival: EntityArrival, baselines: Sequence[StoredBaseline]
    ) -> None:
        cold = [baseline for baseline in baselines if not baseline.is_warm]
        if not cold:
            return
        latest = max(cold, key=lambda baseline: baseline.window_end)
        logger.info(
            "baseline warming up rule=%s entity=%s slots=%d window_end=%s data_points=%d "
            "data_span_s=%d min_span_s=%d",
            rule.id,
            latest.entity_key,
            len(cold),
            iso(latest.window_end),
            latest.data_points,
            latest.data_span_seconds,
            latest.min_span_seconds,
        )


def _baseline_spec(rule: Rule) -> BaselineSpec:
    if not isinstance(rule.spec, BaselineSpec) or not rule.spec.is_stored:
        raise ValueError(f"rule {rule.id!r} is not a baseline rule with stored baselines")
    return rule.spec
