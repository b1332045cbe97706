"""Monthly report: the CISO's figures for one month, charts and downloads."""

from __future__ import annotations

from datetime import timedelta

import backend
import pandas as pd
import state
import streamlit as st

from socwb.reporting import (
    MonthlyFigures,
    ReportMonth,
    build_charts,
    format_duration,
    format_rate,
    monthly_figures_for,
    to_csv,
    to_html,
    to_json,
)
from socwb.tuning import SuppressionStore

st.set_page_config(page_title="Monthly report", layout="wide")
st.title("Monthly report")
principal = backend.require_principal()
services = backend.services()


def previous_month_label() -> str:
    first_of_month = backend.now().astimezone(services.zone).replace(day=1)
    return (first_of_month - timedelta(days=1)).strftime("%Y-%m")


def show_figures(figures: MonthlyFigures) -> None:
    columns = st.columns(4)
    columns[0].metric("Total alerts", figures.total_alerts)
    columns[1].metric("False-positive rate", format_rate(figures.false_positive_rate))
    columns[2].metric("Mean time to acknowledge", format_duration(figures.mean_time_to_acknowledge))
    columns[3].metric("Mean time to close", format_duration(figures.mean_time_to_close))
    st.caption(
        f"{figures.month} in {figures.time_zone}; median time to acknowledge "
        f"{format_duration(figures.median_time_to_acknowledge)}; "
        f"{figures.excluded_canary_alerts} canary alerts left out."
    )
    for chart in build_charts(figures).values():
        st.plotly_chart(chart)
    st.subheader("Response by due time")
    st.dataframe(
        pd.DataFrame([row.model_dump() for row in figures.due_compliance]), hide_index=True
    )
    if figures.tuning_changes:
        st.subheader("Tuning changes")
        st.dataframe(
            pd.DataFrame([c.model_dump() for c in figures.tuning_changes]), hide_index=True
        )


def show_downloads(figures: MonthlyFigures) -> None:
    name = f"socwb-report-{figures.month}"
    columns = st.columns(3)
    columns[0].download_button("HTML", to_html(figures), f"{name}.html", "text/html")
    columns[1].download_button("CSV", to_csv(figures), f"{name}.csv", "text/csv")
    columns[2].download_button("JSON", to_json(figures), f"{name}.json", "application/json")


month_text = st.text_input("Month (YYYY-MM)", value=previous_month_label(), key=state.REPORT_MONTH)
try:
    month = ReportMonth.parse(month_text, services.zone)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
as_of = backend.now()
changes = SuppressionStore(services.search, services.namespace).monthly_review(month, as_of)
figures = monthly_figures_for(
    principal, services.search, services.namespace, month, as_of=as_of, tuning_changes=changes
)
show_figures(figures)
show_downloads(figures)
