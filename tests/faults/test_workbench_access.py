"""Workbench access without a valid session, after sign-out, and past the role's permissions.

Pages run in Streamlit's AppTest against the real node. The server-side
functions the pages call are also called directly, as a client that bypasses
the hidden buttons would reach them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from socwb.alerts.workflow import AlertWorkflow, QueueFilter, list_queue, list_rule_ids
from socwb.auth import (
    ROLE_PERMISSIONS,
    AuthenticationError,
    Permission,
    PermissionDenied,
    Principal,
    Role,
)
from socwb.reporting import ReportMonth, monthly_figures_for
from socwb.search import SearchBackend
from socwb.tuning import FieldCondition, SuppressionStore

from .app_fixtures import (
    PAGES,
    PASSWORD,
    app_state,
    page,
    services,
    write_alert,
)

FIXTURES = (services,)
"""Fixtures of `app_fixtures` that the tests request by name; importing them registers them."""

pytestmark = pytest.mark.node

SECRET_ENTITY = "victim-user-7f3a"
"""Entity of the stored alert; no page may show it without a valid session."""


def _shows_no_data(app: AppTest) -> None:
    """Assert that a page run raised nothing and showed no table, metric or alert text."""
    text = "\n".join(
        str(element.value) for element in (*app.markdown, *app.caption, *app.info, *app.text)
    )
    assert not app.exception
    assert len(app.dataframe) == 0
    assert len(app.metric) == 0
    assert len(app.json) == 0
    assert SECRET_ENTITY not in text


def _sign_in(name: str) -> AppTest:
    app = page("Home.py").run()
    app.text_input(key=app_state.SIGN_IN_NAME).input(name)
    app.text_input(key=app_state.SIGN_IN_PASSWORD).input(PASSWORD)
    app.button(key=app_state.SIGN_IN_BUTTON).click().run()
    return app


@pytest.mark.parametrize("session_id", [None, "forged-session-id"])
@pytest.mark.parametrize("name", PAGES)
def test_page_without_session_shows_nothing(
    services: Any, backend: SearchBackend, namespace: str, name: str, session_id: str | None
) -> None:
    alert = write_alert(backend, namespace, SECRET_ENTITY)
    app = page(name)
    app.session_state[app_state.SELECTED_ALERT] = alert.id
    if session_id is not None:
        app.session_state[app_state.SESSION_ID] = session_id

    app.run()

    _shows_no_data(app)
    if name == "Home.py":
        assert app.text_input(key=app_state.SIGN_IN_PASSWORD) is not None
    else:
        assert any("Sign in on the Home page" in item.value for item in app.warning)


@pytest.mark.parametrize("name", PAGES[1:])
def test_session_id_after_sign_out_refused(
    services: Any, backend: SearchBackend, namespace: str, name: str
) -> None:
    alert = write_alert(backend, namespace, SECRET_ENTITY)
    home = _sign_in("ana")
    session_id = home.session_state[app_state.SESSION_ID]
    home.sidebar.button(key=app_state.SIGN_OUT_BUTTON).click().run()

    reused = page(name)
    reused.session_state[app_state.SESSION_ID] = session_id
    reused.session_state[app_state.SELECTED_ALERT] = alert.id
    reused.run()

    _shows_no_data(reused)
    assert app_state.SESSION_ID not in home.session_state
    assert any("signed out" in item.value for item in reused.info)
    with pytest.raises(AuthenticationError, match="signed out"):
        services.sessions.resolve(session_id, now=datetime.now(UTC))


def test_disabled_user_session_refused(
    services: Any, backend: SearchBackend, namespace: str
) -> None:
    write_alert(backend, namespace, SECRET_ENTITY)
    home = _sign_in("ana")
    session_id = home.session_state[app_state.SESSION_ID]
    services.users.disable("ana")

    queue = page("pages/1_Alert_queue.py")
    queue.session_state[app_state.SESSION_ID] = session_id
    queue.run()

    _shows_no_data(queue)


def _proposal(store: SuppressionStore, proposer: Principal) -> str:
    now = datetime.now(UTC)
    created = store.propose(
        proposer,
        rule_ids=["auth_failure_spike"],
        conditions=[FieldCondition(field="user.name", value="scanner")],
        justification="The vulnerability scanner logs in with a wrong password daily.",
        expires_at=now + timedelta(days=30),
        now=now,
    )
    return created.id


def test_analyst_cannot_call_reviewer_functions(
    services: Any, backend: SearchBackend, namespace: str
) -> None:
    analyst = services.users.authenticate("ana", PASSWORD)
    store = SuppressionStore(backend, namespace)
    store.ensure_indices()
    other = Principal("bob", frozenset({Role.ANALYST}))
    suppression_id = _proposal(store, other)
    now = datetime.now(UTC)
    later = now + timedelta(days=60)

    with pytest.raises(PermissionDenied, match="reviewer"):
        store.approve(analyst, suppression_id, now=now)
    with pytest.raises(PermissionDenied, match="reviewer"):
        store.reject(analyst, suppression_id, now=now)
    with pytest.raises(PermissionDenied, match="reviewer"):
        store.renew(analyst, suppression_id, expires_at=later, now=now)
    assert store.get(suppression_id).state.value == "proposed"
    assert [event.action.value for event in store.events(suppression_id)] == ["propose"]


def test_admin_permissions_only_for_admins() -> None:
    for permission in (Permission.PROVISION, Permission.ADMINISTER_USERS):
        holders = {role for role, granted in ROLE_PERMISSIONS.items() if permission in granted}
        assert holders == {Role.ADMIN}


@pytest.mark.parametrize("principal", [None, Principal("guest", frozenset())])
def test_functions_refuse_missing_role(
    services: Any, backend: SearchBackend, namespace: str, principal: Principal | None
) -> None:
    alert = write_alert(backend, namespace, SECRET_ENTITY)
    store = SuppressionStore(backend, namespace)
    store.ensure_indices()
    now = datetime.now(UTC)
    conditions = [FieldCondition(field="user.name", value=SECRET_ENTITY)]
    month = ReportMonth.parse(now.strftime("%Y-%m"), services.zone)
    calls = {
        "list_queue": lambda: list_queue(backend, namespace, principal, QueueFilter()),
        "list_rule_ids": lambda: list_rule_ids(backend, namespace, principal),
        "open": lambda: AlertWorkflow(backend, namespace).open(principal, alert.id),
        "bulk_acknowledge": lambda: AlertWorkflow(backend, namespace).bulk_acknowledge(
            principal, [alert.id]
        ),
        "monthly_figures_for": lambda: monthly_figures_for(
            principal, backend, namespace, month, as_of=now
        ),
        "preview_count": lambda: store.preview_count(
            principal, ["auth_failure_spike"], conditions, now=now
        ),
        "propose": lambda: _proposal(store, principal),  # type: ignore[arg-type]
    }

    refused = []
    for name, call in calls.items():
        try:
            call()
        except PermissionDenied:
            refused.append(name)

    assert refused == list(calls)
