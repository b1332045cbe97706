"""Coverage ledger: per rule and day, the arrival ranges the detector searched and its gaps."""

from __future__ import annotations

from datetime import timedelta

import backend
import pandas as pd
import state
import streamlit as st

from socwb.auth import PermissionDenied
from socwb.ledger import (
    STATUS_CAUGHT_UP,
    STATUS_OPEN_GAP,
    count_by_status,
    coverage_ledger_for,
    gap_rows,
    ledger_rows,
    to_csv,
    to_json,
)
from socwb.period import Period

DEFAULT_DAYS = 7
ROW_STYLES = {
    STATUS_OPEN_GAP: "background-color: #f8c9c4; font-weight: bold",
    STATUS_CAUGHT_UP: "background-color: #fcefc0",
}

st.set_page_config(page_title="Coverage ledger", layout="wide")
st.title("Coverage ledger")
principal = backend.require_principal()
services = backend.services()


def highlight(row: pd.Series) -> list[str]:
    return [ROW_STYLES.get(str(row["status"]), "")] * len(row)


today = backend.now().astimezone(services.zone).date()
columns = st.columns(2)
first = columns[0].date_input(
    "From", value=today - timedelta(days=DEFAULT_DAYS - 1), key=state.LEDGER_FROM
)
last = columns[1].date_input("To (included)", value=today, key=state.LEDGER_TO)
try:
    period = Period.parse(str(first), str(last), services.zone)
except ValueError as exc:
    st.error(str(exc))
    st.stop()

try:
    days = coverage_ledger_for(principal, services.search, services.namespace, period)
except PermissionDenied as exc:
    st.error(str(exc))
    st.stop()
counts = count_by_status(days)
metrics = st.columns(len(counts))
for column, (status, count) in zip(metrics, counts.items(), strict=True):
    column.metric(f"Rule-days: {status}", count)
if counts[STATUS_OPEN_GAP]:
    st.error(
        f"Open gaps on {counts[STATUS_OPEN_GAP]} rule-days: arrival time that no run searched. "
        "Search it with `socwb detect run --rule RULE --from START --to END`."
    )
st.caption(
    f"Days run midnight to midnight in {services.zone.key}. A gap is arrival time a run "
    "skipped, and it is caught up when a later or backfilled run searched it."
)

if not days:
    st.info("No detector runs in this period.")
    st.stop()
table = pd.DataFrame(ledger_rows(days))
st.dataframe(
    table.style.apply(highlight, axis=1).format({"searched_seconds": "{:.0f}"}), hide_index=True
)
gaps = gap_rows(days)
if gaps:
    st.subheader("Gaps")
    gap_table = pd.DataFrame(gaps).style.apply(highlight, axis=1).format({"seconds": "{:.0f}"})
    st.dataframe(gap_table, hide_index=True)

name = f"socwb-ledger-{period.label}"
downloads = st.columns(2)
downloads[0].download_button("CSV", to_csv(days), f"{name}.csv", "text/csv")
downloads[1].download_button("JSON", to_json(days), f"{name}.json", "application/json")
