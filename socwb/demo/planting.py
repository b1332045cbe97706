"""The scenario planner's shared parts: rule severities, the days scenarios use, and
the builder that collects planted records and manifest entries."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from socwb.demo.context import Overrides, TimedLine
from socwb.demo.manifest import ScenarioEntry
from socwb.demo.world import Calendar, User

logger = logging.getLogger(__name__)

HISTORY_DAYS = 14
"""Days of background before the first scenario, so baselines have history."""
MIN_SCENARIO_DAYS = HISTORY_DAYS + 7
"""Shortest period that has room for every scenario: 14 days of history and one full week."""

RULE_SEVERITIES: dict[str, str] = {
    "auth_failure_spike": "High",
    "new_login_location": "Medium",
    "privileged_off_hours": "High",
    "iam_policy_change": "Critical",
    "firewall_rule_change": "High",
    "data_export_above_baseline": "Critical",
    "new_admin_account": "High",
    "log_source_stopped": "High",
    "vulnerability_critical": "High",
    "malware_detected": "Critical",
    "password_spraying": "High",
    "failures_then_success": "High",
    "mfa_push_fatigue": "High",
    "impossible_travel": "High",
    "auth_volume_anomaly": "Medium",
    "api_volume_anomaly": "Medium",
    "egress_anomaly": "Medium",
    "resource_anomaly": "Medium",
}


@dataclass(frozen=True)
class PlantedDocument:
    """A whole-document record set (a Trivy report) planted as its own file."""

    format_name: str
    suffix: str
    moment: datetime
    text: str
    events: int


@dataclass
class ScenarioPlan:
    """Everything the generator needs from the planner.

    Attributes:
        entries: Manifest entries in time order.
        lines: Planted records per format name, in time order.
        documents: Planted whole documents.
        overrides: Changes to the background (absent people, silent hosts, metric spikes).
    """

    entries: list[ScenarioEntry] = field(default_factory=list)
    lines: dict[str, list[TimedLine]] = field(default_factory=lambda: defaultdict(list))
    documents: list[PlantedDocument] = field(default_factory=list)
    overrides: Overrides = field(default_factory=Overrides)

    def lines_between(self, format_name: str, start: datetime, end: datetime) -> list[TimedLine]:
        """Return the planted records of one format with times in `[start, end)`."""
        return [line for line in self.lines.get(format_name, []) if start <= line[0] < end]


@dataclass(frozen=True)
class ScenarioDays:
    """The days that hold scenarios: the first five weekdays and the first Sunday
    after the history period."""

    weekdays: tuple[int, ...]
    sunday: int


def scenario_days(calendar: Calendar) -> ScenarioDays | None:
    """Return the scenario days of the period, or None when it is too short."""
    candidates = range(HISTORY_DAYS, calendar.days)
    weekdays = tuple(day for day in candidates if calendar.is_weekday(day))[:5]
    sundays = [day for day in candidates if calendar.local_date(day).weekday() == 6]
    if len(weekdays) < 5 or not sundays:
        return None
    return ScenarioDays(weekdays, sundays[0])


class Builder:
    """Collects the records and the manifest entry of each scenario."""

    def __init__(self, seed: int, calendar: Calendar, users: list[User], plan: ScenarioPlan):
        """Start an empty collection for one data set."""
        self.seed = seed
        self.calendar = calendar
        self.users = users
        self.plan = plan
        self._moments: list[datetime] = []

    def rng(self, scenario_id: str) -> random.Random:
        """Return the random source of one scenario."""
        return random.Random(f"{self.seed}/scenario/{scenario_id}")

    def at(self, day: int, hour: int, minute: int = 0, second: float = 0.0) -> datetime:
        """Return a local wall-clock time on `day` as UTC; `second` may exceed 59."""
        moment = self.calendar.at_local(day, hour, minute)
        return moment + timedelta(milliseconds=round(second * 1000))

    def add(self, format_name: str, moment: datetime, text: str) -> None:
        """Plant one record and remember its time for the current scenario's window."""
        self.plan.lines[format_name].append((moment, text))
        self._moments.append(moment)

    def mark(self, *moments: datetime) -> None:
        """Count times of records that the background writes into the scenario window."""
        self._moments.extend(moments)

    def finish(
        self,
        scenario_id: str,
        entity: str,
        where: tuple[str, str],
        description: str,
        also_matches: tuple[str, ...] = (),
    ) -> None:
        """Record the manifest entry of the scenario whose records were just added.

        Args:
            scenario_id: `<rule id>-<number>`; the rule id selects the severity.
            where: Source type and format name of the planted records.
        """
        rule_id = scenario_id.rsplit("-", 1)[0]
        source, format_name = where
        self.plan.entries.append(
            ScenarioEntry(
                id=scenario_id,
                rule_id=rule_id,
                severity=RULE_SEVERITIES[rule_id],
                entity=entity,
                start=min(self._moments),
                end=max(self._moments),
                source=source,
                format=format_name,
                description=description,
                also_matches=list(also_matches),
            )
        )
        self._moments = []
