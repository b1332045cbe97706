"""Suppressions: propose with a preview, and approve, reject or renew as a second reviewer."""

from __future__ import annotations

from datetime import timedelta

import backend
import pandas as pd
import state
import streamlit as st

from socwb.auth import Permission, Principal
from socwb.errors import WorkbenchError
from socwb.tuning import (
    MAX_VALIDITY,
    FieldCondition,
    Suppression,
    SuppressionState,
    SuppressionStore,
)

st.set_page_config(page_title="Suppressions", layout="wide")
st.title("Suppressions")
principal = backend.require_principal()
backend.show_flash()
services = backend.services()
store = SuppressionStore(services.search, services.namespace)


def parse_conditions(text: str) -> list[FieldCondition]:
    conditions = []
    for line in text.splitlines():
        if line.strip():
            field, _, value = line.partition("=")
            conditions.append(FieldCondition(field=field.strip(), value=value.strip()))
    return conditions


def propose_form(user: Principal) -> None:
    st.subheader("Propose")
    rules_text = st.text_input("Rule ids, comma-separated", key=state.SUPPRESSION_RULES)
    conditions_text = st.text_area(
        "Entity conditions, one field=value per line", key=state.SUPPRESSION_CONDITIONS
    )
    justification = st.text_area("Justification", key=state.SUPPRESSION_JUSTIFICATION)
    days = st.number_input("Valid for days", 1, MAX_VALIDITY.days, 30, key=state.SUPPRESSION_DAYS)
    rule_ids = [rule.strip() for rule in rules_text.split(",") if rule.strip()]
    try:
        conditions = parse_conditions(conditions_text)
    except ValueError as exc:
        st.error(f"invalid condition: {exc}")
        return
    if st.button("Preview", key=state.SUPPRESSION_PREVIEW):
        count = store.preview_count(user, rule_ids, conditions, now=backend.now())
        st.info(f"It would have matched {count} alerts of the last 30 days.")
    if st.button("Propose", key=state.SUPPRESSION_PROPOSE):
        moment = backend.now()
        try:
            store.propose(
                user,
                rule_ids=rule_ids,
                conditions=conditions,
                justification=justification,
                expires_at=moment + timedelta(days=int(days)),
                now=moment,
            )
        except WorkbenchError as exc:
            st.error(str(exc))
            return
        st.session_state[state.FLASH] = "Proposed; a reviewer other than you must approve it."
        st.rerun()


def decide_form(user: Principal, suppressions: list[Suppression]) -> None:
    decidable = [
        item
        for item in suppressions
        if item.proposed_by != user.name and item.state != SuppressionState.REJECTED
    ]
    if not decidable:
        return
    st.subheader("Review")
    labels = {
        f"{item.id[:8]} [{item.state.value}] proposer: {item.proposed_by}": item
        for item in decidable
    }
    chosen = labels[st.selectbox("Suppression", list(labels), key=state.SUPPRESSION_SELECTED)]
    note = st.text_input("Decision note", key=state.SUPPRESSION_DECISION_NOTE)
    moment = backend.now()
    actions = {
        state.SUPPRESSION_APPROVE: (
            "Approve",
            lambda: store.approve(user, chosen.id, now=moment, note=note),
        ),
        state.SUPPRESSION_REJECT: (
            "Reject",
            lambda: store.reject(user, chosen.id, now=moment, note=note),
        ),
        state.SUPPRESSION_RENEW: (
            "Renew for 90 days",
            lambda: store.renew(
                user, chosen.id, expires_at=moment + MAX_VALIDITY, now=moment, note=note
            ),
        ),
    }
    # A proposal is approved or rejected; an approved suppression is renewed or revoked.
    if chosen.state == SuppressionState.APPROVED:
        actions.pop(state.SUPPRESSION_APPROVE)
    else:
        actions.pop(state.SUPPRESSION_RENEW)
    for key, (label, decide) in actions.items():
        if st.button(label, key=key):
            try:
                decide()
            except WorkbenchError as exc:
                st.error(str(exc))
                return
            st.session_state[state.FLASH] = f"{label}: done."
            st.rerun()


suppressions = store.list_all()
moment = backend.now()
rows = [
    {
        "id": item.id[:8],
        "state": "expired"
        if item.state == "approved" and item.expires_at <= moment
        else item.state.value,
        "rules": ", ".join(item.rule_ids),
        "conditions": "; ".join(f"{c.field}={c.value}" for c in item.conditions),
        "proposed by": item.proposed_by,
        "decided by": item.decided_by or "",
        "expires (UTC)": item.expires_at.strftime("%Y-%m-%d %H:%M"),
        "justification": item.justification,
    }
    for item in suppressions
]
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True)
else:
    st.info("No suppressions yet.")
if principal.can(Permission.PROPOSE_SUPPRESSION):
    propose_form(principal)
if principal.can(Permission.DECIDE_SUPPRESSION):
    decide_form(principal, suppressions)
