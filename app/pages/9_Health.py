"""Health: engine reachability, detector runs, degraded monitoring, retention and dead letters."""

from __future__ import annotations

import backend
import pandas as pd
import streamlit as st

from socwb.health import HealthReport, report_from

st.set_page_config(page_title="Health", layout="wide")
st.title("Health")
principal = backend.require_principal()
services = backend.services()


def show_engine(report: HealthReport) -> None:
    if report.engine_reachable:
        st.success(f"Search engine reachable, cluster health {report.cluster_status}.")
    else:
        st.error(f"Search engine unreachable: {report.engine_error}")


def show_rules(report: HealthReport) -> None:
    st.subheader("Detector runs")
    if not report.rules:
        st.info("No detector run is recorded for this namespace yet.")
        return
    rows = [
        {
            "Rule": rule.rule_id,
            "Last outcome": rule.last_outcome,
            "Last run (UTC)": rule.last_run_at,
            "Age (s)": round(rule.age_s or 0),
            "Failed runs (24 h)": rule.failed_runs,
            "Last error": rule.last_error or "",
        }
        for rule in report.rules
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def show_findings(report: HealthReport) -> None:
    columns = st.columns(3)
    columns[0].metric("Open monitoring-degraded alerts", report.degraded_alerts)
    columns[1].metric("Retention problems", len(report.lifecycle_problems))
    columns[2].metric("Dead letters", report.deadletters)
    st.subheader("Findings")
    findings = report.findings
    if not findings:
        st.success("No findings.")
    for finding in findings:
        st.warning(finding)


# NOTE: the page uses the workbench's shared backend, whose retries and timeout
# come from the search settings, so during an outage it responds only after them.
health_report = report_from(services.search, services.namespace, backend.now())
show_engine(health_report)
show_findings(health_report)
show_rules(health_report)
st.caption(f"Checked at {health_report.checked_at.isoformat()} for {services.namespace}.")
