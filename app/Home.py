"""Home: sign in with OIDC when configured, otherwise with the local users file."""

from __future__ import annotations

import backend
import state
import streamlit as st

from socwb.auth import AuthenticationError

st.set_page_config(page_title="soc-workbench", layout="wide")
st.title("soc-workbench")


def sign_in_with_password() -> None:
    with st.form("sign_in"):
        name = st.text_input("User name", key=state.SIGN_IN_NAME)
        password = st.text_input("Password", type="password", key=state.SIGN_IN_PASSWORD)
        submitted = st.form_submit_button("Sign in", key=state.SIGN_IN_BUTTON)
    if not submitted:
        return
    services = backend.services()
    try:
        principal = services.users.authenticate(name.strip(), password)
    except AuthenticationError as exc:
        st.error(str(exc))
        return
    session = services.sessions.start(principal, now=backend.now())
    st.session_state[state.SESSION_ID] = session.session_id
    st.rerun()


principal = backend.current_principal()
if principal is None:
    backend.show_flash()
    if backend.is_oidc_configured():
        if st.button("Sign in with your identity provider", key=state.OIDC_BUTTON):
            st.login()
        st.caption("Or sign in with a local account:")
    sign_in_with_password()
else:
    backend.show_signed_in(principal)
    st.write(f"Welcome, {principal.name}. Choose a page in the sidebar.")
    st.page_link("pages/1_Alert_queue.py", label="Alert queue")
    st.page_link("pages/3_Monthly_report.py", label="Monthly report")
