"""Control matrix: each alert type by log source, with rule, canary and source status."""

from __future__ import annotations

import backend
import pandas as pd
import streamlit as st

from socwb.catalogue import load_catalogue
from socwb.controls import MatrixRow, all_controls, control_matrix
from socwb.rules.catalog import builtin_rules
from socwb.settings import load_settings

st.set_page_config(page_title="Control matrix", layout="wide")
st.title("Control matrix")
principal = backend.require_principal()
if not principal.roles:
    st.error(f"User {principal.name} has no role: ask an admin for one to see the controls.")
    st.stop()
services = backend.services()
detector_settings = load_settings().detectors


def mark(is_ok: bool) -> str:
    return "yes" if is_ok else "NO"


def matrix_table(rows: list[MatrixRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "alert type": row.rule_name,
                "severity": row.severity,
                "criteria": ", ".join(row.criteria),
                "source": row.source_title,
                "rule live": mark(row.rule_live.is_ok),
                "canary passing": mark(row.canary_passing.is_ok),
                "source healthy": mark(row.source_healthy.is_ok),
                "rule": row.rule_live.reason,
                "canary": row.canary_passing.reason,
                "source status": row.source_healthy.reason,
            }
            for row in rows
        ]
    )


rules = builtin_rules(detector_settings.privileged_users)
catalogue = load_catalogue()
with st.spinner("Reading rule runs, self-test results and coverage"):
    rows = control_matrix(
        services.search,
        services.namespace,
        rules,
        catalogue,
        now=backend.now(),
        detector_settings=detector_settings,
    )
failing = [row for row in rows if not (row.rule_live.is_ok and row.canary_passing.is_ok)]
unhealthy = {row.source for row in rows if not row.source_healthy.is_ok}
columns = st.columns(3)
columns[0].metric("Rows", len(rows))
columns[1].metric("Rows with a rule not live or a failing canary", len(failing))
columns[2].metric("Unhealthy sources", len(unhealthy))
st.dataframe(matrix_table(rows), hide_index=True)

st.subheader("Controls and the policy clauses they implement")
st.dataframe(
    pd.DataFrame(
        [
            {
                "control": control.id,
                "kind": control.kind,
                "criteria": ", ".join(control.criteria),
                "policy clause": control.clause,
                "implemented by": control.implemented_by,
            }
            for control in all_controls(rules, catalogue)
        ]
    ),
    hide_index=True,
)
