"""Incidents: list, open one, see its linked alerts and history, note, close and export it.

Analysts, reviewers and admins work incidents; auditors only read and export them.
`IncidentService` checks the permission of every read and change itself. The page
keeps the version the user opened, so a change made by someone else meanwhile is
reported as a conflict instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Callable

import backend
import pandas as pd
import state
import streamlit as st

from socwb.auth import Permission, PermissionDenied, Principal
from socwb.errors import AlertWorkflowError
from socwb.incidents import Incident, IncidentStatus, export_markdown
from socwb.rules.model import Severity

PAGE_SIZE = 50

st.set_page_config(page_title="Incidents", layout="wide")
st.title("Incidents")
principal = backend.require_principal()
backend.show_flash()
incidents = backend.services().incidents


def create_form(user: Principal) -> None:
    with st.expander("New incident"):
        title = st.text_input("Title", key=state.INCIDENT_NEW_TITLE)
        severity = st.selectbox(
            "Severity",
            [item.value for item in Severity],
            index=2,
            key=state.INCIDENT_NEW_SEVERITY,
        )
        note = st.text_area("First note", key=state.INCIDENT_NEW_NOTE)
        if st.button("Create incident", key=state.INCIDENT_CREATE):
            try:
                created = incidents.create(user, title, Severity(severity), note=note)
            except AlertWorkflowError as exc:
                st.error(str(exc))
                return
            st.session_state[state.OPENED_INCIDENT] = created
            st.session_state[state.FLASH] = f"Created incident {created.id}."
            st.rerun()


def list_table(items: list[Incident]) -> pd.DataFrame:
    rows = [
        {
            "id": item.id,
            "title": item.title,
            "status": item.status.value,
            "severity": item.severity.value,
            "owner": item.owner or "",
            "alerts": len(item.alert_ids),
            "created (UTC)": item.created_at.strftime("%Y-%m-%d %H:%M"),
            "created by": item.created_by,
        }
        for item in items
    ]
    return pd.DataFrame(rows)


def choose_incident(items: list[Incident]) -> None:
    labels = {f"{item.title} ({item.id})": item.id for item in items}
    chosen = st.selectbox("Open incident", list(labels), key=state.INCIDENT_CHOICE)
    if st.button("Open", key=state.INCIDENT_OPEN) and chosen:
        load(labels[chosen])


def load(incident_id: str) -> None:
    try:
        st.session_state[state.OPENED_INCIDENT] = incidents.open(principal, incident_id)
    except AlertWorkflowError as exc:
        st.error(str(exc))


def show_incident(incident: Incident) -> None:
    st.header(f"{incident.title} ({incident.id})")
    columns = st.columns(4)
    columns[0].metric("Status", incident.status.value)
    columns[1].metric("Severity", incident.severity.value)
    columns[2].metric("Owner", incident.owner or "-")
    columns[3].metric("Linked alerts", len(incident.alert_ids))
    alerts = incidents.linked_alerts(incident)
    st.subheader("Linked alerts")
    if alerts:
        rows = [
            {
                "id": alert.id,
                "rule": alert.rule_id,
                "severity": alert.severity.value,
                "entity": alert.entity_key,
                "status": alert.status.value,
                "created (UTC)": alert.created_at.strftime("%Y-%m-%d %H:%M"),
            }
            for alert in alerts
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.info("No alerts are linked to this incident.")
    show_history(incident)
    st.download_button(
        "Export Markdown",
        export_markdown(incident, alerts),
        f"{incident.id}.md",
        "text/markdown",
        key=state.INCIDENT_EXPORT,
    )


def show_history(incident: Incident) -> None:
    st.subheader("History")
    rows = [
        {
            "seq": entry.seq,
            "at (UTC)": entry.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action.value,
            "status": f"{entry.from_status.value} -> {entry.to_status.value}",
            "details": entry.note or entry.alert_id or entry.owner or entry.title or "",
        }
        for entry in incident.timeline
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def apply(change: Callable[[], Incident], done: str) -> None:
    try:
        st.session_state[state.OPENED_INCIDENT] = change()
    except AlertWorkflowError as exc:
        st.error(f"Not saved: {exc}")
        return
    for key in (state.INCIDENT_LINK_ALERT_ID, state.INCIDENT_NOTE, state.INCIDENT_CLOSE_NOTE):
        st.session_state.pop(key, None)
    st.session_state[state.FLASH] = done
    st.rerun()


def show_actions(user: Principal, incident: Incident) -> None:
    st.subheader("Actions")
    alert_id = st.text_input("Alert id to link", key=state.INCIDENT_LINK_ALERT_ID).strip()
    if st.button("Link alert", key=state.INCIDENT_LINK_ALERT):
        apply(lambda: incidents.link_alert(user, incident, alert_id), "Alert linked.")
    note = st.text_area("Note", key=state.INCIDENT_NOTE)
    if st.button("Add note", key=state.INCIDENT_ADD_NOTE):
        apply(lambda: incidents.add_note(user, incident, note), "Note added.")
    if incident.status == IncidentStatus.CLOSED:
        return
    outcome = st.text_input("Closing note (the outcome)", key=state.INCIDENT_CLOSE_NOTE)
    if st.button("Close incident", key=state.INCIDENT_CLOSE):
        apply(lambda: incidents.close(user, incident, outcome), "Incident closed.")


if principal.can(Permission.WORK_ALERTS):
    create_form(principal)
page_number = int(st.number_input("Page", 1, 200, 1, key=state.INCIDENT_PAGE))
try:
    listing = incidents.list_page(principal, offset=(page_number - 1) * PAGE_SIZE, size=PAGE_SIZE)
except PermissionDenied as exc:
    st.error(str(exc))
    st.stop()
st.caption(
    f"{listing.total} incidents; showing {len(listing.incidents)} from #{listing.offset + 1}."
)
if listing.incidents:
    st.dataframe(list_table(listing.incidents), hide_index=True)
    choose_incident(listing.incidents)
else:
    st.info("No incidents yet.")

opened: Incident | None = st.session_state.get(state.OPENED_INCIDENT)
if opened is not None:
    if st.button("Reload", key=state.INCIDENT_RELOAD):
        load(opened.id)
        opened = st.session_state[state.OPENED_INCIDENT]
    show_incident(opened)
    if principal.can(Permission.WORK_ALERTS):
        show_actions(principal, opened)
