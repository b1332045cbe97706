"""The planted scenarios of a data set: which records to add and what to change."""

from __future__ import annotations

import logging

from socwb.demo.planting import (
    MIN_SCENARIO_DAYS,
    Builder,
    ScenarioPlan,
    scenario_days,
)
from socwb.demo.scenarios_changes import plant_changes
from socwb.demo.scenarios_identity import plant_identity
from socwb.demo.world import Calendar, User

logger = logging.getLogger(__name__)


def plan_scenarios(seed: int, calendar: Calendar, users: list[User]) -> ScenarioPlan:
    """Return the planted records, manifest entries and background changes.

    Scenarios fill the first week after 14 days of history. A shorter period gets no
    scenarios, and a warning is logged.
    """
    plan = ScenarioPlan()
    days = scenario_days(calendar)
    if days is None:
        logger.warning(
            "no scenarios planted: %d days is shorter than the %d days they need",
            calendar.days,
            MIN_SCENARIO_DAYS,
        )
        return plan
    builder = Builder(seed, calendar, users, plan)
    plant_identity(builder, days)
    plant_changes(builder, days)
    for planted in plan.lines.values():
        planted.sort(key=lambda line: line[0])
    plan.entries.sort(key=lambda entry: (entry.start, entry.id))
    return plan
