"""Worst-case retention of a lifecycle policy, computed from its body alone.

The quantity computed here is the minimum age of an index's newest document when
a policy deletes the index. Every document is at least that old when it is deleted,
so the policy meets a retention requirement when this age is at least the required
retention. Ages count from the moment a document is indexed (`event.ingested`),
not from the event's own `@timestamp`.

For data streams, an index stops receiving writes when it is rolled over, so the
guarantee is the shortest time that can pass between the rollover and the delete:

* OpenSearch ISM: a `min_rollover_age` transition counts from the rollover, so it
  guarantees its full age. A `min_index_age` transition counts from index creation,
  so it guarantees only its age minus the maximum time the index can stay the write
  index. That time is bounded only when the rollover action has a `min_index_age`
  condition, and even then the ISM job can run late.
* Elasticsearch ILM: when the hot phase has a rollover action, each phase's
  `min_age` counts from the rollover, so the delete phase guarantees its `min_age`.
  Without a rollover action, `min_age` counts from index creation and writes may
  continue until the delete, so nothing is guaranteed.

Size and document-count conditions can fire at any moment, so they guarantee no age.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeAlias

from socwb.errors import ProvisioningError

logger = logging.getLogger(__name__)

Engine: TypeAlias = Literal["opensearch", "elasticsearch"]
PolicyBody: TypeAlias = Mapping[str, Any]

NEVER_DELETED = timedelta.max
"""Result for a policy that never deletes an index: retention is unlimited."""

DEFAULT_SCHEDULER_DELAY = timedelta(hours=1)
"""Assumed maximum lateness of a time-based rollover, an estimate.

ISM runs each managed index job every 5 minutes by default, with up to 60 % jitter
(`plugins.index_state_management.job_interval` and `.jitter`), and ILM checks every
10 minutes (`indices.lifecycle.poll_interval`). One hour covers a few missed runs.
A stalled or failing scheduler can exceed any margin, which is why the shipped
policies use conditions that count from the rollover and do not depend on it.
"""

_TIME_VALUE = re.compile(r"^(\d+)(nanos|micros|ms|s|m|h|d)$")
_TIME_UNITS: Mapping[str, timedelta] = {
    "micros": timedelta(microseconds=1),
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}

_ISM_TRANSITION_CONDITIONS = frozenset(
    {"min_index_age", "min_rollover_age", "min_doc_count", "min_size", "cron"}
)
_ISM_ROLLOVER_CONDITIONS = frozenset(
    {"min_index_age", "min_doc_count", "min_size", "min_primary_shard_size", "copy_alias"}
)
_ILM_PHASES = ("hot", "warm", "cold", "frozen", "delete")
_ILM_ROLLOVER_CONDITIONS = frozenset(
    {
        "max_age",
        "max_docs",
        "max_size",
        "max_primary_shard_size",
        "max_primary_shard_docs",
        "min_age",
        "min_docs",
        "min_size",
        "min_primary_shard_size",
        "min_primary_shard_docs",
    }
)


class RetentionPolicyError(ProvisioningError):
    """A lifecycle policy body cannot be parsed, or the engine would reject it."""


@dataclass(frozen=True)
class RetentionCheck:
    """Outcome of comparing a policy's worst case with a required retention.

    Attributes:
        guaranteed: Minimum age of the newest document when its index is deleted,
            or `NEVER_DELETED`.
        required: The retention the policy must meet.
    """

    guaranteed: timedelta
    required: timedelta

    @property
    def is_met(self) -> bool:
        """Whether every document is kept at least as long as required."""
        return self.guaranteed >= self.required

    def describe(self) -> str:
        """Return a one-line summary such as `guarantees 365 days, requires 365 days`."""
        return f"guarantees {format_age(self.guaranteed)}, requires {format_age(self.required)}"


def format_age(age: timedelta) -> str:
    """Return an age in days with up to three decimals, or `forever` for `NEVER_DELETED`."""
    if age == NEVER_DELETED:
        return "forever"
    days = age / timedelta(days=1)
    return f"{days:.3f}".rstrip("0").rstrip(".") + " days"


def parse_time_value(value: object, where: str) -> timedelta:
    """Parse an OpenSearch or Elasticsearch time value such as `30d` or `90m`.

    Raises:
        RetentionPolicyError: The value is not a whole number followed by one of the
            units nanos, micros, ms, s, m, h or d.
    """
    match = _TIME_VALUE.match(value) if isinstance(value, str) else None
    if match is None:
        raise RetentionPolicyError(
            f"{where}: invalid time value {value!r}: use a whole number and a unit "
            "(nanos, micros, ms, s, m, h, d), for example '365d'"
        )
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "nanos":
        # timedelta has microsecond resolution, so round down to whole microseconds.
        return timedelta(microseconds=amount // 1000)
    return amount * _TIME_UNITS[unit]


def youngest_document_age_at_delete(
    policy: PolicyBody,
    engine: Engine,
    *,
    scheduler_delay: timedelta = DEFAULT_SCHEDULER_DELAY,
) -> timedelta:
    """Compute the guaranteed minimum age of an index's newest document at its deletion.

    This is the worst case over every path through the policy and every moment at
    which a size or document-count condition could fire.

    Args:
        policy: The request body, `{"policy": {...}}`, as sent to the ISM policy API
            for `opensearch` or to the ILM policy API for `elasticsearch`.
        engine: Which engine's lifecycle semantics to apply.
        scheduler_delay: Assumed maximum lateness of a time-based rollover. It only
            matters for ISM policies that delete on `min_index_age`.

    Returns:
        The age, or `NEVER_DELETED` when no path through the policy deletes an index.

    Raises:
        RetentionPolicyError: The body is not a policy the engine would accept.
    """
    inner = policy.get("policy") if isinstance(policy, Mapping) else None
    if not isinstance(inner, Mapping):
        raise RetentionPolicyError(
            "invalid lifecycle policy body: expected an object with a 'policy' object, "
            "as sent to the policy API"
        )
    if engine == "opensearch":
        return _ism_youngest_age(inner, scheduler_delay)
    if engine == "elasticsearch":
        return _ilm_youngest_age(inner)
    raise RetentionPolicyError(f"unknown engine {engine!r}: use 'opensearch' or 'elasticsearch'")


def check_retention(
    policy: PolicyBody,
    engine: Engine,
    required: timedelta,
    *,
    scheduler_delay: timedelta = DEFAULT_SCHEDULER_DELAY,
) -> RetentionCheck:
    """Compare a policy's worst-case retention with a required retention.

    Raises:
        RetentionPolicyError: The body is not a policy the engine would accept.
    """
    guaranteed = youngest_document_age_at_delete(policy, engine, scheduler_delay=scheduler_delay)
    return RetentionCheck(guaranteed=guaranteed, required=required)


# ---------------------------------------------------------------- OpenSearch ISM


@dataclass(frozen=True)
class _IsmTransition:
    target: str
    condition: str | None
    age: timedelta | None


@dataclass(frozen=True)
class _IsmState:
    name: str
    actions: tuple[tuple[str, Mapping[str, Any]], ...]
    transitions: tuple[_IsmTransition, ...]


@dataclass(frozen=True)
class _IsmPath:
    """Facts collected along one path through the states, up to the current step.

    Attributes:
        rolled_over: Whether a rollover action has run on this path.
        write_bound: Maximum time after creation during which the index can still
            receive writes, or None when unbounded. Meaningful once `rolled_over`.
        from_rollover: Largest `min_rollover_age` passed on this path.
        from_creation: Largest `min_index_age` passed after the rollover.
    """

    rolled_over: bool
    write_bound: timedelta | None
    from_rollover: timedelta
    from_creation: timedelta

    def guarantee(self) -> timedelta:
        if not self.rolled_over:
            # The index is still the write index, so writes may continue until the delete.
            return self.from_rollover
        from_creation = timedelta(0)
        if self.write_bound is not None:
            from_creation = max(timedelta(0), self.from_creation - self.write_bound)
        return max(self.from_rollover, from_creation)


def _ism_youngest_age(policy: Mapping[str, Any], scheduler_delay: timedelta) -> timedelta:
    states = _parse_ism_states(policy)
    default_state = policy.get("default_state")
    if default_state not in states:
        raise RetentionPolicyError(
            f"ISM policy: default_state {default_state!r} is not one of the states "
            f"{sorted(states)}: name an existing state"
        )
    start = _IsmPath(
        rolled_over=False, write_bound=None, from_rollover=timedelta(0), from_creation=timedelta(0)
    )
    results = list(_walk_ism(states, str(default_state), start, scheduler_delay, frozenset()))
    return min(results, default=NEVER_DELETED)


def _walk_ism(
    states: Mapping[str, _IsmState],
    name: str,
    path: _IsmPath,
    scheduler_delay: timedelta,
    visited: frozenset[tuple[str, bool]],
) -> Iterator[timedelta]:
    """Yield the guaranteed age for every path from state `name` that deletes the index.

    A state is visited at most once per path for each rollover status. Repeating a
    cycle only adds conditions, so it cannot lower the worst case.
    """
    visit = (name, path.rolled_over)
    if visit in visited:
        return
    state = states[name]
    for action_type, params in state.actions:
        if action_type == "delete":
            yield path.guarantee()
            return
        if action_type == "rollover" and not path.rolled_over:
            path = _IsmPath(
                rolled_over=True,
                write_bound=_ism_rollover_bound(params, scheduler_delay),
                from_rollover=path.from_rollover,
                # min_index_age transitions before the rollover end before the
                # writes do, so they guarantee nothing.
                from_creation=timedelta(0),
            )
    for transition in state.transitions:
        yield from _walk_ism(
            states,
            transition.target,
            _after_transition(path, transition),
            scheduler_delay,
            visited | {visit},
        )


def _after_transition(path: _IsmPath, transition: _IsmTransition) -> _IsmPath:
    if transition.condition == "min_rollover_age" and transition.age is not None:
        # ISM fails this transition for an index that was never rolled over, and
        # writes end at the first rollover, so the full age holds on every path.
        return _IsmPath(
            path.rolled_over,
            path.write_bound,
            max(path.from_rollover, transition.age),
            path.from_creation,
        )
    if transition.condition == "min_index_age" and transition.age is not None:
        return _IsmPath(
            path.rolled_over,
            path.write_bound,
            path.from_rollover,
            max(path.from_creation, transition.age),
        )
    return path


def _ism_rollover_bound(params: Mapping[str, Any], scheduler_delay: timedelta) -> timedelta | None:
    """Return the latest time after creation at which this rollover action fires.

    ISM rolls over when any one condition holds, so a `min_index_age` bounds it
    whatever the other conditions are. An action without conditions fires on the
    first run.
    """
    conditions = [key for key in params if key != "copy_alias"]
    if not conditions:
        return scheduler_delay
    if "min_index_age" in params:
        age = parse_time_value(params["min_index_age"], "ISM rollover min_index_age")
        return age + scheduler_delay
    return None


def _parse_ism_states(policy: Mapping[str, Any]) -> dict[str, _IsmState]:
    raw_states = policy.get("states")
    if not isinstance(raw_states, list) or not raw_states:
        raise RetentionPolicyError("ISM policy: 'states' is missing or empty: add a list of states")
    states: dict[str, _IsmState] = {}
    for raw in raw_states:
        state = _parse_ism_state(raw)
        if state.name in states:
            raise RetentionPolicyError(
                f"ISM policy: duplicate state {state.name!r}: give each state its own name"
            )
        states[state.name] = state
    for state in states.values():
        for transition in state.transitions:
            if transition.target not in states:
                raise RetentionPolicyError(
                    f"ISM state {state.name!r}: transition to unknown state "
                    f"{transition.target!r}: name one of {sorted(states)}"
                )
    return states


def _parse_ism_state(raw: object) -> _IsmState:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise RetentionPolicyError("ISM policy: every state must be an object with a 'name'")
    name: str = raw["name"]
    actions = tuple(_parse_ism_action(name, action) for action in raw.get("actions", []))
    transitions = tuple(_parse_ism_transition(name, item) for item in raw.get("transitions", []))
    return _IsmState(name=name, actions=actions, transitions=transitions)


def _parse_ism_action(state: str, raw: object) -> tuple[str, Mapping[str, Any]]:
    if not isinstance(raw, Mapping):
        raise RetentionPolicyError(f"ISM state {state!r}: every action must be an object")
    # An action object contains one action type, plus the optional timeout and retry.
    types = [key for key in raw if key not in ("timeout", "retry")]
    if len(types) != 1:
        raise RetentionPolicyError(
            f"ISM state {state!r}: invalid action {dict(raw)!r}: each action must name "
            "exactly one action type, such as {'delete': {}}"
        )
    action_type = types[0]
    params = raw[action_type]
    if not isinstance(params, Mapping):
        raise RetentionPolicyError(
            f"ISM state {state!r}: action {action_type!r} must have an object as its value"
        )
    if action_type == "rollover":
        _check_keys(params, _ISM_ROLLOVER_CONDITIONS, f"ISM state {state!r} rollover")
    return action_type, params


def _parse_ism_transition(state: str, raw: object) -> _IsmTransition:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("state_name"), str):
        raise RetentionPolicyError(
            f"ISM state {state!r}: every transition must be an object with a 'state_name'"
        )
    where = f"ISM state {state!r} transition to {raw['state_name']!r}"
    if "conditions" not in raw:
        return _IsmTransition(target=raw["state_name"], condition=None, age=None)
    conditions = raw["conditions"]
    # ISM rejects a conditions object with zero or several conditions.
    if not isinstance(conditions, Mapping) or len(conditions) != 1:
        raise RetentionPolicyError(
            f"{where}: 'conditions' must contain exactly one condition, because ISM "
            "rejects any other number: split them into separate transitions"
        )
    _check_keys(conditions, _ISM_TRANSITION_CONDITIONS, where)
    condition, value = next(iter(conditions.items()))
    age = None
    if condition in ("min_index_age", "min_rollover_age"):
        age = parse_time_value(value, f"{where} {condition}")
    return _IsmTransition(target=raw["state_name"], condition=condition, age=age)


# ------------------------------------------------------------ Elasticsearch ILM


def _ilm_youngest_age(policy: Mapping[str, Any]) -> timedelta:
    phases = policy.get("phases")
    if not isinstance(phases, Mapping) or not phases:
        raise RetentionPolicyError("ILM policy: 'phases' is missing or empty: add phases")
    _check_keys(phases, frozenset(_ILM_PHASES), "ILM policy phases")

    entry_ages: list[timedelta] = []
    has_rollover = False
    for name in _ILM_PHASES:
        phase = phases.get(name)
        if phase is None:
            continue
        actions = _ilm_actions(name, phase)
        entry_age = parse_time_value(phase.get("min_age", "0ms"), f"ILM {name} min_age")
        if name == "hot" and "rollover" in actions:
            has_rollover = True
            _check_ilm_rollover(actions["rollover"])
        if name != "hot":
            # The hot phase's min_age counts from creation, before any rollover.
            entry_ages.append(entry_age)
        if "delete" in actions:
            if not has_rollover:
                # min_age counts from creation, and without a rollover the index can
                # take writes until the moment it is deleted.
                return timedelta(0)
            # Phases run in order and each waits for its min_age from the rollover.
            return max(entry_ages)
    return NEVER_DELETED


def _ilm_actions(name: str, phase: object) -> Mapping[str, Any]:
    if not isinstance(phase, Mapping):
        raise RetentionPolicyError(f"ILM phase {name!r} must be an object")
    _check_keys(phase, frozenset({"min_age", "actions"}), f"ILM phase {name!r}")
    actions = phase.get("actions", {})
    if not isinstance(actions, Mapping):
        raise RetentionPolicyError(f"ILM phase {name!r}: 'actions' must be an object")
    if "delete" in actions and name != "delete":
        raise RetentionPolicyError(
            f"ILM phase {name!r}: the delete action is only allowed in the delete phase"
        )
    return actions


def _check_ilm_rollover(params: object) -> None:
    if not isinstance(params, Mapping):
        raise RetentionPolicyError("ILM hot rollover must be an object")
    _check_keys(params, _ILM_ROLLOVER_CONDITIONS, "ILM hot rollover")
    if not any(key.startswith("max_") for key in params):
        raise RetentionPolicyError(
            "ILM hot rollover: no max_* condition: add one, such as max_age, because "
            "Elasticsearch rejects a rollover without one"
        )
    for key in ("max_age", "min_age"):
        if key in params:
            parse_time_value(params[key], f"ILM hot rollover {key}")


def _check_keys(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RetentionPolicyError(f"{where}: unknown keys {unknown}: use only {sorted(allowed)}")
