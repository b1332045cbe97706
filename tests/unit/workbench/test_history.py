"""Deriving an alert's workflow fields from its history entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socwb.alerts.history import (
    Action,
    AlertState,
    Disposition,
    HistoryEntry,
    derive_state,
    history_entry_id,
)
from socwb.alerts.model import AlertStatus

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
OPEN = AlertStatus.OPEN
ACKNOWLEDGED = AlertStatus.ACKNOWLEDGED
CLOSED = AlertStatus.CLOSED


def entry(
    seq: int, action: Action, before: AlertStatus, after: AlertStatus, **fields: object
) -> HistoryEntry:
    return HistoryEntry(
        alert_id="a1",
        seq=seq,
        actor=str(fields.pop("actor", "ana")),
        at=T0 + timedelta(minutes=seq),
        action=action,
        from_status=before,
        to_status=after,
        **fields,  # type: ignore[arg-type]
    )


def test_empty_history_is_open() -> None:
    assert derive_state([]) == AlertState()


def test_acknowledge_sets_first_acknowledgement_only() -> None:
    history = [
        entry(1, Action.ACKNOWLEDGE, OPEN, ACKNOWLEDGED),
        entry(2, Action.CLOSE, ACKNOWLEDGED, CLOSED, disposition=Disposition.BENIGN),
        entry(3, Action.REOPEN, CLOSED, OPEN, note="again"),
        entry(4, Action.ACKNOWLEDGE, OPEN, ACKNOWLEDGED, actor="bob"),
    ]

    state = derive_state(history)

    assert state.acknowledged_at == T0 + timedelta(minutes=1)
    assert state.acknowledged_by == "ana"
    assert state.first_response_at == T0 + timedelta(minutes=1)
    assert state.status == ACKNOWLEDGED
    assert state.status_changed_by == "bob"
    assert state.disposition is None
    assert state.last_seq == 4


def test_close_from_open_is_first_response_without_acknowledgement() -> None:
    history = [entry(1, Action.CLOSE, OPEN, CLOSED, disposition=Disposition.FALSE_POSITIVE)]

    state = derive_state(history)

    assert state.first_response_at == T0 + timedelta(minutes=1)
    assert state.acknowledged_at is None
    assert state.closed_at == T0 + timedelta(minutes=1)
    assert state.disposition == Disposition.FALSE_POSITIVE


def test_notes_keep_status_change_time() -> None:
    history = [
        entry(1, Action.ACKNOWLEDGE, OPEN, ACKNOWLEDGED),
        entry(2, Action.NOTE, ACKNOWLEDGED, ACKNOWLEDGED, note="n"),
        entry(3, Action.ASSIGN, ACKNOWLEDGED, ACKNOWLEDGED, assignee="bob"),
    ]

    state = derive_state(history)

    assert state.status_changed_at == T0 + timedelta(minutes=1)
    assert state.assignee == "bob"


def test_entries_apply_in_sequence_order() -> None:
    history = [
        entry(2, Action.ASSIGN, ACKNOWLEDGED, ACKNOWLEDGED, assignee="late"),
        entry(1, Action.ACKNOWLEDGE, OPEN, ACKNOWLEDGED),
    ]

    assert derive_state(history).last_seq == 2
    assert derive_state(history).assignee == "late"


def test_history_entry_id_pads_sequence() -> None:
    assert history_entry_id("abc", 7) == "abc-000007"


def test_history_entry_serialises_utc_time() -> None:
    document = entry(1, Action.ACKNOWLEDGE, OPEN, ACKNOWLEDGED).model_dump(mode="json")

    assert document["at"] == "2026-11-03T09:01:00.000Z"
