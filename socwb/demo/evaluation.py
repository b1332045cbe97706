"""Compare the alerts raised on a generated data set with the scenarios planted in it.

A scenario is found when an alert of its rule names its entity and its first
event lies inside the scenario's time span (with some slack for windows that
start before the first planted event). Alerts that match no scenario, and no
`also_matches` entry of one, are false positives on the benign background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from socwb.alerts.model import Alert
from socwb.demo.manifest import Manifest, ScenarioEntry

SLACK = timedelta(hours=1)


@dataclass
class ScenarioResult:
    """The alerts that matched one scenario."""

    scenario: ScenarioEntry
    alert_ids: list[str] = field(default_factory=list)

    @property
    def is_found(self) -> bool:
        """True when at least one alert matched."""
        return bool(self.alert_ids)

    @property
    def is_duplicated(self) -> bool:
        """True when more than one alert matched."""
        return len(self.alert_ids) > 1


@dataclass
class Evaluation:
    """Scenario results and the alerts that no scenario explains."""

    results: list[ScenarioResult]
    false_positives: list[Alert]
    explained: list[Alert]

    @property
    def missed(self) -> list[ScenarioEntry]:
        """Scenarios no alert matched."""
        return [result.scenario for result in self.results if not result.is_found]

    @property
    def duplicated(self) -> list[ScenarioEntry]:
        """Scenarios more than one alert matched."""
        return [result.scenario for result in self.results if result.is_duplicated]

    def false_positives_by_rule(self) -> dict[str, int]:
        """Count the unexplained alerts per rule."""
        counts: dict[str, int] = {}
        for alert in self.false_positives:
            counts[alert.rule_id] = counts.get(alert.rule_id, 0) + 1
        return dict(sorted(counts.items()))


def evaluate(alerts: Sequence[Alert], manifest: Manifest) -> Evaluation:
    """Match alerts to the manifest's scenarios (pure)."""
    results = [ScenarioResult(scenario) for scenario in manifest.scenarios]
    false_positives: list[Alert] = []
    explained: list[Alert] = []
    for alert in alerts:
        matched = [result for result in results if _matches(alert, result.scenario)]
        for result in matched:
            result.alert_ids.append(alert.id)
        if matched:
            continue
        if any(_also_matches(alert, scenario) for scenario in manifest.scenarios):
            explained.append(alert)
        else:
            false_positives.append(alert)
    return Evaluation(results, false_positives, explained)


def _entity_values(alert: Alert) -> set[str]:
    # "-" stands for a group-by field the events lack, as None does.
    present = [item.value for item in alert.entity if item.value not in (None, "-")]
    values = {value for value in present if value is not None}
    if len(present) > 1:
        values.add("+".join(value or "" for value in present))
    return values


def _within(alert: Alert, scenario: ScenarioEntry) -> bool:
    return scenario.start - SLACK <= alert.first_event <= scenario.end + SLACK


def _matches(alert: Alert, scenario: ScenarioEntry) -> bool:
    return (
        alert.rule_id == scenario.rule_id
        and scenario.entity in _entity_values(alert)
        and _within(alert, scenario)
    )


def _also_matches(alert: Alert, scenario: ScenarioEntry) -> bool:
    if not _within(alert, scenario):
        return False
    for entry in scenario.also_matches:
        rule_id, _, entity = entry.partition(":")
        if alert.rule_id == rule_id and entity in _entity_values(alert):
            return True
    return False


def describe(evaluation: Evaluation) -> list[str]:
    """Return readable lines: one per scenario, then the false positives per rule."""
    lines = []
    for result in evaluation.results:
        state = "found" if result.is_found else "MISSED"
        if result.is_duplicated:
            state = f"found {len(result.alert_ids)} times"
        lines.append(f"{result.scenario.id:32} {state}")
    lines.append(f"false positives: {len(evaluation.false_positives)}")
    for rule_id, count in evaluation.false_positives_by_rule().items():
        lines.append(f"  {rule_id:30} {count}")
    return lines
