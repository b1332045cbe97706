"""Alert detail: evidence, timeline and the analyst's actions on one alert.

The page keeps the version the user opened in the session, so a change made by
someone else meanwhile is reported as a conflict instead of being overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import backend
import pandas as pd
import state
import streamlit as st

from socwb.alerts.history import Disposition
from socwb.alerts.model import AlertStatus
from socwb.alerts.workflow import ConcurrentChangeError, OpenedAlert
from socwb.auth import Permission, Principal
from socwb.errors import AlertWorkflowError
from socwb.reporting import format_duration

st.set_page_config(page_title="Alert detail", layout="wide")
st.title("Alert detail")
principal = backend.require_principal()
backend.show_flash()
workflow = backend.services().workflow


def choose_alert_id() -> str | None:
    default = st.session_state.get(state.SELECTED_ALERT) or st.query_params.get("alert", "")
    alert_id = st.text_input("Alert id", value=default, key=state.DETAIL_ALERT_ID).strip()
    return alert_id or None


def opened_version(alert_id: str) -> OpenedAlert | None:
    opened: OpenedAlert | None = st.session_state.get(state.OPENED_ALERT)
    if (
        opened is None
        or opened.alert.id != alert_id
        or st.button("Reload", key=state.DETAIL_RELOAD)
    ):
        try:
            opened = workflow.open(principal, alert_id)
        except AlertWorkflowError as exc:
            st.error(str(exc))
            return None
        st.session_state[state.OPENED_ALERT] = opened
    return opened


def show_alert(opened: OpenedAlert) -> None:
    alert, current = opened.alert, opened.state
    remaining = (alert.due_at - backend.now()).total_seconds()
    columns = st.columns(4)
    columns[0].metric("Severity", alert.severity.value)
    columns[1].metric("Status", current.status.value)
    columns[2].metric("Time left", "BREACHED" if remaining <= 0 else format_duration(remaining))
    columns[3].metric("Assignee", current.assignee or "-")
    st.write(f"**{alert.rule_name}** ({alert.rule_id}) on `{alert.entity_key}`")
    st.write(f"Policy: {alert.policy_clause}")
    if alert.is_late:
        st.warning(
            "Late events: some events arrived more than the rule's allowed lateness after "
            "their own time, so this alert was raised late."
        )
    if current.disposition:
        st.write(f"Disposition: **{current.disposition.value}**")
    if current.incident_ids:
        st.write(f"Incidents: {', '.join(current.incident_ids)}")
    with st.expander("Evidence"):
        st.json(json.loads(alert.evidence.model_dump_json()))


def show_timeline(opened: OpenedAlert) -> None:
    st.subheader("Timeline")
    rows = [
        {"at (UTC)": opened.alert.created_at.isoformat(), "action": "created", "actor": "detector"}
    ]
    for entry in opened.history:
        rows.append(
            {
                "at (UTC)": entry.at.isoformat(),
                "action": entry.action.value,
                "actor": entry.actor,
                "status": f"{entry.from_status.value} -> {entry.to_status.value}",
                "details": entry.note or entry.disposition or entry.assignee or entry.incident_id,
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def apply(change: Callable[[], OpenedAlert], done: str) -> None:
    try:
        st.session_state[state.OPENED_ALERT] = change()
    except ConcurrentChangeError as exc:
        st.error(f"Not saved: {exc}")
        return
    except AlertWorkflowError as exc:
        st.error(str(exc))
        return
    st.session_state[state.FLASH] = done
    st.rerun()


def show_actions(user: Principal, opened: OpenedAlert) -> None:
    st.subheader("Actions")
    status = opened.state.status
    if status == AlertStatus.SUPPRESSED:
        st.info(
            f"Suppression {opened.alert.suppression_id} withheld this alert. "
            "It is kept as a record and takes no actions."
        )
        return
    if status == AlertStatus.OPEN and st.button("Acknowledge", key=state.DETAIL_ACKNOWLEDGE):
        apply(lambda: workflow.acknowledge(user, opened), "Acknowledged.")
    if status == AlertStatus.ACKNOWLEDGED and st.button("Start work", key=state.DETAIL_START):
        apply(lambda: workflow.start(user, opened), "Moved to in progress.")
    if status != AlertStatus.CLOSED:
        assignee = st.text_input(
            "Assignee", value=opened.state.assignee or "", key=state.DETAIL_ASSIGNEE
        )
        if st.button("Assign", key=state.DETAIL_ASSIGN):
            apply(lambda: workflow.assign(user, opened, assignee.strip() or None), "Assigned.")
    note = st.text_area("Note", key=state.DETAIL_NOTE)
    if st.button("Add note", key=state.DETAIL_ADD_NOTE):
        apply(lambda: workflow.add_note(user, opened, note), "Note added.")
    incident = st.text_input("Incident id", key=state.DETAIL_INCIDENT)
    if st.button("Link incident", key=state.DETAIL_LINK_INCIDENT):
        apply(lambda: workflow.link_incident(user, opened, incident), "Incident linked.")
    if status != AlertStatus.CLOSED:
        show_close(user, opened)
    else:
        reason = st.text_input("Why reopen", key=state.DETAIL_REOPEN_NOTE)
        if st.button("Reopen", key=state.DETAIL_REOPEN):
            apply(lambda: workflow.reopen(user, opened, reason), "Reopened.")


def show_close(user: Principal, opened: OpenedAlert) -> None:
    disposition = st.selectbox(
        "Disposition",
        [item.value for item in Disposition],
        index=None,
        placeholder="Choose a disposition to close",
        key=state.DETAIL_DISPOSITION,
    )
    close_note = st.text_input("Closing note", key=state.DETAIL_CLOSE_NOTE)
    if st.button("Close", key=state.DETAIL_CLOSE):
        chosen = Disposition(disposition) if disposition else None
        apply(lambda: workflow.close(user, opened, chosen, close_note), "Closed.")


alert_id = choose_alert_id()
if alert_id is None:
    st.info("Choose an alert in the queue, or enter its id.")
    st.stop()
opened = opened_version(alert_id)
if opened is not None:
    show_alert(opened)
    show_timeline(opened)
    if principal.can(Permission.WORK_ALERTS):
        show_actions(principal, opened)
