"""Detection rules: rule model, built-in rules, pure query builders and bucket evaluation."""

from socwb.rules.catalog import builtin_rules, get_rule
from socwb.rules.model import (
    MatchSpec,
    Rule,
    Severity,
    SilenceSpec,
    ThresholdSpec,
    TimeWindow,
)

__all__ = [
    "MatchSpec",
    "Rule",
    "Severity",
    "SilenceSpec",
    "ThresholdSpec",
    "TimeWindow",
    "builtin_rules",
    "get_rule",
]
