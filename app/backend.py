"""The workbench's shared services (one `st.cache_resource` factory) and the signed-in user.

Pages call `require_principal()` first: it resolves the server-side session and
stops the page with a sign-in hint when there is none, so no data is shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import state
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from socwb.alerts.workflow import AlertWorkflow
from socwb.auth import (
    AuthenticationError,
    Principal,
    SessionRegistry,
    UsersFile,
)
from socwb.incidents import IncidentService
from socwb.search import SearchBackend, create_backend
from socwb.settings import load_settings

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Shared page dependencies: the engine, the namespace, the users file and the sessions."""

    search: SearchBackend
    namespace: str
    zone: ZoneInfo
    users: UsersFile
    sessions: SessionRegistry

    @property
    def workflow(self) -> AlertWorkflow:
        """The alert workflow of the namespace."""
        return AlertWorkflow(self.search, self.namespace)

    @property
    def incidents(self) -> IncidentService:
        """The incident service of the namespace."""
        return IncidentService(self.search, self.namespace)


_override: Services | None = None


def use_services(services: Services | None) -> None:
    """Replace the services built from settings, e.g. in tests; None restores them."""
    global _override
    _override = services


@st.cache_resource
def _services_from_settings() -> Services:
    settings = load_settings()
    return Services(
        search=create_backend(settings.search),
        namespace=settings.search.namespace,
        zone=settings.organisation.zone,
        users=UsersFile(settings.workbench.users_file),
        sessions=SessionRegistry(timeout=settings.workbench.session_timeout),
    )


def services() -> Services:
    """Return the shared services."""
    return _override or _services_from_settings()


def now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def is_oidc_configured() -> bool:
    """Return whether `.streamlit/secrets.toml` has an `[auth]` section for `st.login`."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return False


def current_principal() -> Principal | None:
    """Return the signed-in user, or None when the session is missing or no longer valid."""
    session_id = st.session_state.get(state.SESSION_ID)
    if session_id is None and is_oidc_configured() and st.user.is_logged_in:
        session_id = _start_oidc_session()
    if session_id is None:
        return None
    try:
        principal = services().sessions.resolve(session_id, now=now())
        return services().users.principal_for(principal.name)
    except AuthenticationError as exc:
        services().sessions.end(session_id)
        st.session_state.pop(state.SESSION_ID, None)
        st.session_state[state.FLASH] = str(exc)
        return None


def _start_oidc_session() -> str | None:
    email = st.user.get("email")
    if not isinstance(email, str):
        st.error("The identity provider sent no email address, so no role can be looked up.")
        return None
    try:
        principal = services().users.principal_for(email)
    except AuthenticationError as exc:
        st.error(str(exc))
        return None
    session = services().sessions.start(principal, now=now(), method="oidc")
    st.session_state[state.SESSION_ID] = session.session_id
    return session.session_id


def require_principal() -> Principal:
    """Return the signed-in user, or show a sign-in hint and stop the page."""
    principal = current_principal()
    if principal is None:
        show_flash()
        st.warning("Sign in on the Home page to see alerts and reports.")
        st.stop()
    show_signed_in(principal)
    return principal


def show_flash() -> None:
    """Show and forget the message left by the previous run."""
    message = st.session_state.pop(state.FLASH, None)
    if message:
        st.info(message)


def show_signed_in(principal: Principal) -> None:
    """Show who is signed in, with a sign-out button, in the sidebar."""
    roles = ", ".join(sorted(role.value for role in principal.roles))
    st.sidebar.write(f"Signed in as **{principal.name}** ({roles})")
    if st.sidebar.button("Sign out", key=state.SIGN_OUT_BUTTON):
        sign_out()


def sign_out() -> None:
    """End the server-side session, so its id is rejected from now on, and rerun."""
    session_id = st.session_state.pop(state.SESSION_ID, None)
    if session_id:
        services().sessions.end(session_id)
    st.session_state.pop(state.OPENED_ALERT, None)
    st.session_state.pop(state.OPENED_INCIDENT, None)
    if is_oidc_configured() and st.user.is_logged_in:
        st.logout()
    st.rerun()
