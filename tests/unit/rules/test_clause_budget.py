"""Step 2 queries stay under the engine's clause limit however many ranges an entity has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socwb.detection import split_by_clauses
from socwb.rules.model import TimeWindow
from socwb.rules.query import EvaluationTarget

START = datetime(2026, 11, 1, tzinfo=UTC)


def _target(name: str, ranges: int) -> EvaluationTarget:
    windows = tuple(
        TimeWindow(start=START + timedelta(hours=n), end=START + timedelta(hours=n, minutes=10))
        for n in range(ranges)
    )
    return EvaluationTarget((name,), windows)


def _cost(batch: list[EvaluationTarget]) -> int:
    return sum(1 + 1 + len(target.ranges) for target in batch)


def test_small_targets_share_one_batch() -> None:
    batches = split_by_clauses([_target("ann", 3), _target("bob", 4)], 1, budget=50)

    assert len(batches) == 1
    assert [target.entity for target in batches[0]] == [("ann",), ("bob",)]


def test_batches_respect_budget() -> None:
    targets = [_target(f"user{n}", 30) for n in range(20)]

    batches = split_by_clauses(targets, 1, budget=100)

    assert all(_cost(batch) <= 100 for batch in batches)
    assert sum(len(batch) for batch in batches) == 20


def test_entity_with_many_ranges_is_split_in_order() -> None:
    target = _target("ann", 250)

    batches = split_by_clauses([target], 1, budget=100)

    units = [unit for batch in batches for unit in batch]
    assert all(unit.entity == ("ann",) for unit in units)
    assert all(_cost(batch) <= 100 for batch in batches)
    assert [window for unit in units for window in unit.ranges] == list(target.ranges)
