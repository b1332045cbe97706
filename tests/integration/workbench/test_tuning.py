"""Suppressions on a real engine: proposal, two-person approval, expiry, preview, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from socwb.auth import PermissionDenied, Principal, Role
from socwb.errors import AlertWorkflowError
from socwb.reporting import ReportMonth
from socwb.search import SearchBackend
from socwb.tuning import (
    FieldCondition,
    Suppression,
    SuppressionAction,
    SuppressionState,
    SuppressionStore,
    is_suppressed,
)

from .conftest import ANALYST, REVIEWER, AlertFactory, build_alert

NOW = datetime.now(UTC).replace(microsecond=0)
SECOND_REVIEWER = Principal("rolf", frozenset({Role.REVIEWER}))
CONDITIONS = [FieldCondition(field="user.name", value="svc_backup")]
JUSTIFICATION = "nightly backup job logs in with a fixed service account"


@pytest.fixture
def store(backend: SearchBackend, namespace: str) -> SuppressionStore:
    return SuppressionStore(backend, namespace)


def propose(store: SuppressionStore, by: Principal = ANALYST, days: int = 30) -> Suppression:
    return store.propose(
        by,
        rule_ids=["auth_failure_spike"],
        conditions=CONDITIONS,
        justification=JUSTIFICATION,
        expires_at=NOW + timedelta(days=days),
        now=NOW,
    )


def test_proposal_does_not_apply_until_approved(store: SuppressionStore) -> None:
    proposal = propose(store)
    alert = build_alert(created_at=NOW, user="svc_backup")

    assert proposal.state == SuppressionState.PROPOSED
    assert store.active(NOW) == []
    assert not is_suppressed(alert, store.list_all(), NOW)


def test_reviewer_approval_makes_it_apply(store: SuppressionStore) -> None:
    proposal = propose(store)

    approved = store.approve(REVIEWER, proposal.id, now=NOW, note="checked the job")

    alert = build_alert(created_at=NOW, user="svc_backup")
    other = build_alert(created_at=NOW, user="alice")
    assert approved.state == SuppressionState.APPROVED
    assert approved.decided_by == "rita"
    assert is_suppressed(alert, store.active(NOW), NOW)
    assert not is_suppressed(other, store.active(NOW), NOW)


def test_expired_suppression_never_applies(store: SuppressionStore) -> None:
    approved = store.approve(REVIEWER, propose(store, days=1).id, now=NOW)
    later = NOW + timedelta(days=2)
    alert = build_alert(created_at=later, user="svc_backup")

    assert store.active(later) == []
    assert not is_suppressed(alert, [approved], later)


def test_proposer_cannot_approve_own_proposal(store: SuppressionStore) -> None:
    proposal = propose(store, by=REVIEWER)

    with pytest.raises(PermissionDenied, match="proposed suppression .* may not decide"):
        store.approve(REVIEWER, proposal.id, now=NOW)

    assert store.get(proposal.id).state == SuppressionState.PROPOSED


def test_analyst_cannot_approve(store: SuppressionStore) -> None:
    proposal = propose(store, by=REVIEWER)

    with pytest.raises(PermissionDenied, match="decide_suppression"):
        store.approve(ANALYST, proposal.id, now=NOW)


def test_second_decision_on_proposal_fails(store: SuppressionStore) -> None:
    proposal = propose(store)
    store.reject(REVIEWER, proposal.id, now=NOW, note="too broad")

    with pytest.raises(AlertWorkflowError, match="it is rejected, not proposed"):
        store.approve(SECOND_REVIEWER, proposal.id, now=NOW)


@pytest.mark.parametrize(
    ("days", "message"),
    [(91, "more than 90 days ahead"), (-1, "not in the future")],
    ids=["too-long", "past"],
)
def test_proposal_expiry_is_checked(store: SuppressionStore, days: int, message: str) -> None:
    with pytest.raises(AlertWorkflowError, match=message):
        propose(store, days=days)


def test_short_justification_is_rejected(store: SuppressionStore) -> None:
    with pytest.raises(AlertWorkflowError, match="at least 20 characters"):
        store.propose(
            ANALYST,
            rule_ids=["r"],
            conditions=CONDITIONS,
            justification="because",
            expires_at=NOW + timedelta(days=1),
            now=NOW,
        )


def test_renew_extends_expired_suppression(store: SuppressionStore) -> None:
    approved = store.approve(REVIEWER, propose(store, days=1).id, now=NOW)
    later = NOW + timedelta(days=3)

    renewed = store.renew(
        SECOND_REVIEWER, approved.id, expires_at=later + timedelta(days=30), now=later
    )

    assert renewed.is_active(later)
    assert renewed.decided_by == "rolf"


def test_every_decision_is_in_history(store: SuppressionStore) -> None:
    proposal = propose(store)
    store.approve(REVIEWER, proposal.id, now=NOW)
    store.renew(REVIEWER, proposal.id, expires_at=NOW + timedelta(days=60), now=NOW)

    events = store.events(proposal.id)

    assert [(e.seq, e.action, e.actor) for e in events] == [
        (1, SuppressionAction.PROPOSE, "ana"),
        (2, SuppressionAction.APPROVE, "rita"),
        (3, SuppressionAction.RENEW, "rita"),
    ]


def test_stale_decision_from_same_version_fails(store: SuppressionStore) -> None:
    proposal = propose(store)
    # Another reviewer's event takes sequence number 2 first.
    store._append(store._event(proposal, SECOND_REVIEWER, SuppressionAction.REJECT, NOW, None))

    with pytest.raises(AlertWorkflowError, match="decided by someone else meanwhile"):
        store.approve(REVIEWER, proposal.id, now=NOW)


def test_preview_counts_last_30_days(store: SuppressionStore, make_alert: AlertFactory) -> None:
    make_alert(created_at=NOW - timedelta(days=1), user="svc_backup")
    make_alert(created_at=NOW - timedelta(days=10), user="svc_backup")
    make_alert(created_at=NOW - timedelta(days=40), user="svc_backup")
    make_alert(created_at=NOW - timedelta(days=1), user="alice")
    make_alert(created_at=NOW - timedelta(days=1), user="svc_backup", rule_id="other_rule")

    count = store.preview_count(ANALYST, ["auth_failure_spike"], CONDITIONS, now=NOW)

    assert count == 2


def test_monthly_review_lists_changes(store: SuppressionStore) -> None:
    proposal = propose(store)
    store.approve(REVIEWER, proposal.id, now=NOW)
    month = ReportMonth(NOW.year, NOW.month, ZoneInfo("UTC"))

    changes = store.monthly_review(month, NOW)

    assert [(c.suppression_id, c.state, c.decided_by) for c in changes] == [
        (proposal.id, "approved", "rita")
    ]
    assert store.monthly_review(month, NOW + timedelta(days=40))[0].state == "expired"
