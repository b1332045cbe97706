"""The Streamlit pages with AppTest against the real engine: sign-in, queue, detail, report."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from socwb.alerts.history import HistoryStore
from socwb.alerts.model import AlertStatus
from socwb.alerts.store import AlertStore
from socwb.alerts.workflow import AlertWorkflow
from socwb.auth import Principal, Role, SessionRegistry, UsersFile
from socwb.search import SearchBackend
from socwb.tuning import FieldCondition, SuppressionStore

from .conftest import ANALYST, REVIEWER, SECOND_ANALYST, AlertFactory, build_alert

APP = Path(__file__).resolve().parents[3] / "app"
PASSWORD = "analyst password 1"
TIMEOUT = 60

if str(APP) not in sys.path:
    sys.path.insert(0, str(APP))
state: ModuleType = importlib.import_module("state")
app_backend: ModuleType = importlib.import_module("backend")


@pytest.fixture
def services(backend: SearchBackend, namespace: str, tmp_path: Path) -> Iterator[object]:
    """Services for the pages: this test's namespace; users ana, bob (analysts), rita (reviewer)."""
    users = UsersFile(tmp_path / "users.json")
    users.add("ana", PASSWORD, [Role.ANALYST])
    users.add("bob", PASSWORD, [Role.ANALYST])
    users.add("rita", PASSWORD, [Role.REVIEWER])
    built = app_backend.Services(
        search=backend,
        namespace=namespace,
        zone=ZoneInfo("UTC"),
        users=users,
        sessions=SessionRegistry(),
    )
    app_backend.use_services(built)
    try:
        yield built
    finally:
        app_backend.use_services(None)


def page(name: str) -> AppTest:
    return AppTest.from_file(str(APP / name), default_timeout=TIMEOUT)


def signed_in(services: object, name: str = "pages/1_Alert_queue.py") -> AppTest:
    session = services.sessions.start(  # type: ignore[attr-defined]
        Principal("ana", frozenset({Role.ANALYST})), now=datetime.now(UTC)
    )
    app = page(name)
    app.session_state[state.SESSION_ID] = session.session_id
    return app


def all_text(app: AppTest) -> str:
    parts = [element.value for element in (*app.markdown, *app.warning, *app.error, *app.info)]
    return "\n".join(str(part) for part in parts)


@pytest.mark.parametrize(
    "name", ["pages/1_Alert_queue.py", "pages/2_Alert_detail.py", "pages/3_Monthly_report.py"]
)
def test_page_without_session_shows_no_data(
    services: object, make_alert: AlertFactory, name: str
) -> None:
    make_alert()

    app = page(name).run()

    assert not app.exception
    assert "Sign in on the Home page" in app.warning[0].value
    assert len(app.dataframe) == 0
    assert len(app.metric) == 0


def test_analyst_signs_in_and_sees_alert(services: object, make_alert: AlertFactory) -> None:
    alert = make_alert()
    app = page("Home.py").run()

    app.text_input(key=state.SIGN_IN_NAME).input("ana")
    app.text_input(key=state.SIGN_IN_PASSWORD).input(PASSWORD)
    app.button(key=state.SIGN_IN_BUTTON).click().run()
    app.switch_page("pages/1_Alert_queue.py").run()

    assert not app.exception
    table = app.dataframe[0].value
    assert table["id"].tolist() == [alert.id]
    assert table["rule"].tolist() == [alert.rule_id]


def test_wrong_password_shows_error_and_no_session(services: object) -> None:
    app = page("Home.py").run()

    app.text_input(key=state.SIGN_IN_NAME).input("ana")
    app.text_input(key=state.SIGN_IN_PASSWORD).input("wrong password!")
    app.button(key=state.SIGN_IN_BUTTON).click().run()

    assert "sign-in failed" in app.error[0].value
    assert state.SESSION_ID not in app.session_state


def test_signed_out_session_id_is_rejected(services: object, make_alert: AlertFactory) -> None:
    make_alert()
    app = signed_in(services).run()
    session_id = app.session_state[state.SESSION_ID]

    app.sidebar.button(key=state.SIGN_OUT_BUTTON).click().run()
    reused = page("pages/1_Alert_queue.py")
    reused.session_state[state.SESSION_ID] = session_id
    reused.run()

    assert len(reused.dataframe) == 0
    assert "signed out" in all_text(reused)


def test_acknowledge_on_detail_page_writes_one_entry(
    services: object, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()
    app = signed_in(services, "pages/2_Alert_detail.py")
    app.session_state[state.SELECTED_ALERT] = alert.id
    app.run()

    app.button(key=state.DETAIL_ACKNOWLEDGE).click().run()

    assert not app.exception
    entries = HistoryStore(backend, namespace).entries(alert.id)
    assert [(entry.action.value, entry.actor) for entry in entries] == [("acknowledge", "ana")]
    assert "Acknowledged." in all_text(app)


def test_suppressed_alert_detail_has_no_actions(services: object, alert_store: AlertStore) -> None:
    built = build_alert(created_at=datetime.now(UTC) - timedelta(minutes=10))
    alert = built.model_copy(
        update={"status": AlertStatus.SUPPRESSED, "suppression_id": "s-backup"}
    )
    assert alert_store.create_many([alert]) == []
    alert_store.refresh()
    app = signed_in(services, "pages/2_Alert_detail.py")
    app.session_state[state.SELECTED_ALERT] = alert.id

    app.run()

    assert not app.exception
    assert "Suppression s-backup withheld this alert" in all_text(app)
    keys = {button.key for button in app.button}
    assert state.DETAIL_ACKNOWLEDGE not in keys
    assert state.DETAIL_ADD_NOTE not in keys
    assert state.DETAIL_REOPEN not in keys
    assert len(app.selectbox) == 0


def test_detail_page_reports_conflict(
    services: object, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()
    app = signed_in(services, "pages/2_Alert_detail.py")
    app.session_state[state.SELECTED_ALERT] = alert.id
    app.run()
    workflow = AlertWorkflow(backend, namespace)
    workflow.acknowledge(SECOND_ANALYST, workflow.open(SECOND_ANALYST, alert.id))

    app.button(key=state.DETAIL_ACKNOWLEDGE).click().run()

    assert "changed by bob" in app.error[0].value
    assert len(HistoryStore(backend, namespace).entries(alert.id)) == 1


def test_close_requires_disposition_on_page(services: object, make_alert: AlertFactory) -> None:
    alert = make_alert()
    app = signed_in(services, "pages/2_Alert_detail.py")
    app.session_state[state.SELECTED_ALERT] = alert.id
    app.run()

    app.button(key=state.DETAIL_CLOSE).click().run()

    assert "requires a disposition" in app.error[0].value


def test_queue_bulk_acknowledge(
    services: object, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    first = make_alert()
    second = make_alert()
    app = signed_in(services).run()

    selection = app.multiselect(key=state.QUEUE_BULK_SELECTION)
    selection.set_value(selection.options).run()
    app.button(key=state.QUEUE_BULK_ACKNOWLEDGE).click().run()

    history = HistoryStore(backend, namespace)
    assert len(history.entries(first.id)) == 1
    assert len(history.entries(second.id)) == 1
    assert "Acknowledged 2 alerts." in all_text(app)


def test_report_page_shows_figures(services: object, make_alert: AlertFactory) -> None:
    make_alert(created_at=datetime(2026, 11, 5, 10, 0, tzinfo=UTC))
    app = signed_in(services, "pages/3_Monthly_report.py").run()

    app.text_input(key=state.REPORT_MONTH).input("2026-11").run()

    assert not app.exception
    assert app.metric[0].value == "1"
    assert app.metric[1].value == "n/a"


def session_for(services: object, user: Principal, name: str) -> AppTest:
    session = services.sessions.start(user, now=datetime.now(UTC))  # type: ignore[attr-defined]
    app = page(name)
    app.session_state[state.SESSION_ID] = session.session_id
    return app


def test_analyst_proposes_and_sees_no_review_controls(
    services: object, backend: SearchBackend, namespace: str
) -> None:
    app = session_for(services, ANALYST, "pages/4_Suppressions.py").run()

    app.text_input(key=state.SUPPRESSION_RULES).input("auth_failure_spike")
    app.text_area(key=state.SUPPRESSION_CONDITIONS).input("user.name=svc_backup")
    app.text_area(key=state.SUPPRESSION_JUSTIFICATION).input(
        "nightly backup job logs in with a fixed service account"
    )
    app.button(key=state.SUPPRESSION_PROPOSE).click().run()

    assert not app.exception
    stored = SuppressionStore(backend, namespace).list_all()
    assert [(item.proposed_by, item.state.value) for item in stored] == [("ana", "proposed")]
    assert not any(button.key == state.SUPPRESSION_APPROVE for button in app.button)


def test_reviewer_approves_other_users_proposal(
    services: object, backend: SearchBackend, namespace: str
) -> None:
    store = SuppressionStore(backend, namespace)
    now = datetime.now(UTC)
    proposal = store.propose(
        ANALYST,
        rule_ids=["auth_failure_spike"],
        conditions=[FieldCondition(field="user.name", value="svc_backup")],
        justification="nightly backup job logs in with a fixed service account",
        expires_at=now + timedelta(days=7),
        now=now,
    )
    app = session_for(services, REVIEWER, "pages/4_Suppressions.py").run()

    app.button(key=state.SUPPRESSION_APPROVE).click().run()

    assert not app.exception
    assert store.get(proposal.id).state.value == "approved"
    assert store.get(proposal.id).decided_by == "rita"


def test_reviewer_sees_no_controls_for_own_proposal(
    services: object, backend: SearchBackend, namespace: str
) -> None:
    now = datetime.now(UTC)
    SuppressionStore(backend, namespace).propose(
        REVIEWER,
        rule_ids=["auth_failure_spike"],
        conditions=[FieldCondition(field="user.name", value="svc_backup")],
        justification="nightly backup job logs in with a fixed service account",
        expires_at=now + timedelta(days=7),
        now=now,
    )

    app = session_for(services, REVIEWER, "pages/4_Suppressions.py").run()

    assert not app.exception
    assert not any(button.key == state.SUPPRESSION_APPROVE for button in app.button)


def test_disabled_user_session_shows_no_data(services: object, make_alert: AlertFactory) -> None:
    make_alert()
    app = signed_in(services)
    services.users.disable("ana")  # type: ignore[attr-defined]

    app.run()

    assert len(app.dataframe) == 0
    assert "no enabled account" in all_text(app)
