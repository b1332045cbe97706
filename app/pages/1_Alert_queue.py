"""Alert queue: open alerts, least time left to their due time first."""

from __future__ import annotations

from datetime import timedelta

import backend
import pandas as pd
import state
import streamlit as st

from socwb.alerts.model import Alert, AlertStatus
from socwb.alerts.workflow import QueueFilter, list_queue, list_rule_ids
from socwb.auth import Permission, Principal
from socwb.reporting import format_duration
from socwb.rules.model import Severity

PAGE_SIZE = 50

st.set_page_config(page_title="Alert queue", layout="wide")
st.title("Alert queue")
principal = backend.require_principal()
backend.show_flash()
services = backend.services()


def read_filter() -> QueueFilter:
    columns = st.columns(5)
    severities = columns[0].multiselect(
        "Severity", [item.value for item in Severity], key=state.QUEUE_SEVERITIES
    )
    rules = columns[1].multiselect(
        "Rule",
        list_rule_ids(services.search, services.namespace, principal),
        key=state.QUEUE_RULES,
    )
    statuses = columns[2].multiselect(
        "Status",
        [item.value for item in AlertStatus],
        default=[AlertStatus.OPEN.value, AlertStatus.ACKNOWLEDGED.value, "in_progress"],
        key=state.QUEUE_STATUSES,
    )
    entity = columns[3].text_input("Entity contains", key=state.QUEUE_ENTITY)
    days = columns[4].number_input(
        "Created in the last days (0: any time)", 0, 365, 0, key=state.QUEUE_DAYS
    )
    return QueueFilter(
        severities=tuple(severities),
        rule_ids=tuple(rules),
        statuses=tuple(AlertStatus(value) for value in statuses),
        entity=entity or None,
        created_from=backend.now() - timedelta(days=int(days)) if days else None,
    )


def queue_table(alerts: list[Alert]) -> pd.DataFrame:
    moment = backend.now()
    rows = [
        {
            "due": "BREACHED" if alert.due_at <= moment else "",
            "time left": format_duration((alert.due_at - moment).total_seconds()),
            "severity": alert.severity.value,
            "rule": alert.rule_id,
            "entity": alert.entity_key,
            "status": alert.status.value,
            "created (UTC)": alert.created_at.strftime("%Y-%m-%d %H:%M"),
            "events": alert.count,
            "id": alert.id,
        }
        for alert in alerts
    ]
    return pd.DataFrame(rows)


def bulk_acknowledge(user: Principal, alerts: list[Alert]) -> None:
    choices = {f"{a.rule_id} {a.entity_key} ({a.id[:8]})": a.id for a in alerts}
    open_choices = [
        label for label, alert in zip(choices, alerts, strict=True) if alert.status == "open"
    ]
    selected = st.multiselect("Acknowledge alerts", open_choices, key=state.QUEUE_BULK_SELECTION)
    if st.button("Acknowledge selected", key=state.QUEUE_BULK_ACKNOWLEDGE, disabled=not selected):
        outcome = services.workflow.bulk_acknowledge(user, [choices[label] for label in selected])
        message = f"Acknowledged {len(outcome.changed)} alerts."
        for alert_id, reason in outcome.failed.items():
            message += f" {alert_id[:8]}: {reason}"
        st.session_state[state.FLASH] = message
        st.rerun()


def open_detail(alerts: list[Alert]) -> None:
    labels = {f"{a.rule_id} {a.entity_key} ({a.id[:8]})": a.id for a in alerts}
    chosen = st.selectbox("Open alert", list(labels), key=state.QUEUE_OPEN_ALERT)
    if st.button("Open", key=state.QUEUE_OPEN_BUTTON) and chosen:
        st.session_state[state.SELECTED_ALERT] = labels[chosen]
        st.session_state.pop(state.OPENED_ALERT, None)
        st.switch_page("pages/2_Alert_detail.py")


queue_filter = read_filter()
page_number = int(st.number_input("Page", 1, 200, 1, key=state.QUEUE_PAGE))
try:
    page = list_queue(
        services.search,
        services.namespace,
        principal,
        queue_filter,
        offset=(page_number - 1) * PAGE_SIZE,
        size=PAGE_SIZE,
    )
except ValueError as exc:
    st.error(f"Invalid filter: {exc}")
    st.stop()
st.caption(f"{page.total} alerts match; showing {len(page.alerts)} from #{page.offset + 1}.")
if page.alerts:
    st.dataframe(queue_table(page.alerts), hide_index=True)
    open_detail(page.alerts)
    if principal.can(Permission.WORK_ALERTS):
        bulk_acknowledge(principal, page.alerts)
else:
    st.info("No alerts match the filter.")
