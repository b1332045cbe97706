"""Admin: source coverage, integrity, provisioning preview and apply, lifecycle, users.

The page is for the admin role only. The functions in `socwb.administration` check
the role again on every call, so the page's check is not the only guard.
"""

from __future__ import annotations

import logging

import backend
import pandas as pd
import state
import streamlit as st

from socwb.administration import (
    apply_provisioning,
    coverage_overview,
    lifecycle_states,
    list_user_accounts,
    preview_apply,
    verify_integrity,
)
from socwb.auth import Permission, PermissionDenied, Principal, require
from socwb.coverage import SourceCoverage
from socwb.errors import WorkbenchError
from socwb.provisioning import ApplyReport

logger = logging.getLogger(__name__)

st.set_page_config(page_title="Admin", layout="wide")
st.title("Admin")
principal = backend.require_principal()
try:
    require(principal, Permission.PROVISION)
except PermissionDenied as exc:
    st.error(f"The Admin page is for admins only: {exc}.")
    st.stop()
backend.show_flash()
services = backend.services()


def show_coverage(report: list[SourceCoverage]) -> None:
    st.subheader("Source coverage")
    rows = []
    for item in report:
        required = len(item.log_types_seen) + len(item.log_types_missing)
        rows.append(
            {
                "source": item.source,
                "last event": item.last_event or "-",
                "events 24h": item.events_24h,
                "log types seen": f"{len(item.log_types_seen)}/{required}",
                "findings": len(item.findings),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    findings = [f"{item.source}: {finding}" for item in report for finding in item.findings]
    if findings:
        st.warning("\n".join(f"- {finding}" for finding in findings))
    indices = [
        {
            "source": item.source,
            "index": index.index,
            "write index": index.is_write_index,
            "policy": index.policy or "-",
            "guaranteed days": index.guaranteed_days,
            "required days": index.required_days,
            "retention met": index.is_retention_met,
            "read-only": index.is_read_only,
        }
        for item in report
        for index in item.indices
    ]
    st.caption("Retention and read-only state per backing index")
    if indices:
        st.dataframe(pd.DataFrame(indices), hide_index=True)
    else:
        st.info("No log backing indices yet.")


def show_preview(report: ApplyReport) -> None:
    st.subheader("Provisioning")
    columns = st.columns(3)
    columns[0].metric("To create", report.count("create"))
    columns[1].metric("To update", report.count("update"))
    columns[2].metric("Unchanged", report.count("unchanged"))
    rows = [
        {
            "action": change.action,
            "kind": change.kind,
            "name": change.name,
            "drift": "; ".join(change.differences),
        }
        for change in report.changes
        if change.action != "unchanged"
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    for index, policy in report.attached:
        st.write(f"Would attach `{policy}` to `{index}`.")
    for note in report.notes:
        st.caption(f"Note: {note}")


def apply_form(user: Principal) -> None:
    is_confirmed = st.checkbox(
        "I reviewed the preview; apply it to the cluster", key=state.ADMIN_APPLY_CONFIRM
    )
    if st.button("Apply", key=state.ADMIN_APPLY, disabled=not is_confirmed):
        try:
            report = apply_provisioning(user, services.search, services.namespace)
        except WorkbenchError as exc:
            logger.error(
                "apply failed user=%s namespace=%s error=%s", user.name, services.namespace, exc
            )
            st.error(f"Apply failed: {exc}. Check the preview and the engine, then apply again.")
            return
        st.session_state[state.FLASH] = (
            f"Applied: {report.count('create')} created, {report.count('update')} updated, "
            f"{report.count('unchanged')} unchanged."
        )
        st.session_state.pop(state.ADMIN_APPLY_CONFIRM, None)
        st.rerun()


def show_integrity(user: Principal) -> None:
    st.subheader("Integrity")
    st.caption(
        "Checks the ledger chain and recomputes the digest of every recorded log index "
        "(`socwb verify`). Record new digests with `socwb verify --record`."
    )
    if not st.button("Verify now", key=state.ADMIN_VERIFY):
        return
    try:
        report = verify_integrity(user, services.search, services.namespace, backend.now())
    except WorkbenchError as exc:
        logger.error(
            "verify failed user=%s namespace=%s error=%s", user.name, services.namespace, exc
        )
        st.error(f"Verification failed: {exc}. Check the engine, then verify again.")
        return
    columns = st.columns(3)
    columns[0].metric("Ledger entries", report.ledger_entries)
    columns[1].metric("Indices checked", report.indices_checked)
    columns[2].metric("Findings", len(report.findings))
    if not report.findings:
        st.success(f"No findings; ledger head {report.head_hash[:16]}.")
        return
    st.error("The integrity check has findings: investigate each before the next audit.")
    st.dataframe(pd.DataFrame([vars(item) for item in report.findings]), hide_index=True)


def show_lifecycle(user: Principal) -> None:
    st.subheader("Lifecycle state per backing index")
    states = lifecycle_states(user, services.search, services.namespace)
    if not states:
        st.info("No log backing indices yet.")
        return
    st.dataframe(pd.DataFrame([vars(item) for item in states]), hide_index=True)


def show_users(user: Principal) -> None:
    st.subheader("Users")
    rows = [
        {
            "name": account.name,
            "roles": ", ".join(role.value for role in account.roles),
            "sign-in": account.sign_in_method,
            "state": "disabled" if account.is_disabled else "enabled",
            "created (UTC)": account.created_at.strftime("%Y-%m-%d %H:%M"),
        }
        for account in list_user_accounts(user, services.users)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption("Add and disable users with `socwb users add` and `socwb users disable`.")


show_coverage(coverage_overview(principal, services.search, services.namespace))
show_preview(preview_apply(principal, services.search, services.namespace))
apply_form(principal)
show_integrity(principal)
show_lifecycle(principal)
show_users(principal)
