"""The Admin page with AppTest against the real engine: role check, views and confirmed apply."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from socwb.administration import preview_apply
from socwb.auth import Principal, Role
from socwb.integrity import record_digests
from socwb.lifecycle_fallback import run_lifecycle
from socwb.provisioning import apply_assets, uses_lifecycle_fallback
from socwb.search import SearchBackend

from .conftest import ANALYST, REVIEWER
from .test_pages import PASSWORD, all_text, page, services, session_for, state

__all__ = ["services"]

PAGE = "pages/8_Admin.py"
ADMIN = Principal("adam", frozenset({Role.ADMIN}))
AUDITOR = Principal("audrey", frozenset({Role.AUDITOR}))


@pytest.fixture
def admin_services(services: Any) -> Any:
    """The page services with an admin and an auditor added to the users file."""
    services.users.add(ADMIN.name, PASSWORD, [Role.ADMIN])
    services.users.add(AUDITOR.name, PASSWORD, [Role.AUDITOR])
    return services


def table_with(app: Any, column: str) -> Any:
    return next(element.value for element in app.dataframe if column in element.value.columns)


def test_page_without_session_shows_nothing(admin_services: Any) -> None:
    app = page(PAGE).run()

    assert not app.exception
    assert "Sign in on the Home page" in app.warning[0].value
    assert len(app.dataframe) == 0
    assert len(app.metric) == 0


@pytest.mark.parametrize("user", [ANALYST, REVIEWER, AUDITOR], ids=lambda user: user.name)
def test_non_admin_is_rejected(
    admin_services: Any, backend: SearchBackend, namespace: str, user: Principal
) -> None:
    app = session_for(admin_services, user, PAGE).run()

    assert not app.exception
    assert "for admins only" in app.error[0].value
    assert len(app.dataframe) == 0
    assert len(app.metric) == 0
    assert not any(button.key == state.ADMIN_APPLY for button in app.button)


def test_admin_sees_views_without_hashes(
    admin_services: Any, backend: SearchBackend, namespace: str
) -> None:
    apply_assets(backend, namespace)
    stream = f"logs-edr.test-{namespace}"
    backend.index_document(stream, {"@timestamp": "2026-01-01T00:00:00Z"}, refresh=True)
    index = backend.get_json(f"/_data_stream/{stream}")["data_streams"][0]["indices"][0]
    # Without ISM the policy of an index is known once the fallback enforcer has run.
    run_lifecycle(backend, namespace)

    app = session_for(admin_services, ADMIN, PAGE).run()

    assert not app.exception
    coverage = table_with(app, "log types seen")
    assert "edr" in coverage["source"].tolist()
    retention = table_with(app, "read-only")
    assert retention["index"].tolist() == [index["index_name"]]
    assert retention["policy"].tolist() == [f"socwb-retention-edr-{namespace}"]
    if uses_lifecycle_fallback(backend):
        lifecycle = table_with(app, "rolled_over_at")
        assert lifecycle["index"].tolist() == [index["index_name"]]
        assert lifecycle["state"].tolist() == ["hot"]
    users = table_with(app, "sign-in")
    assert sorted(users["name"].tolist()) == ["adam", "ana", "audrey", "bob", "rita"]
    assert "password_hash" not in users.columns
    for element in app.dataframe:
        assert "argon2" not in element.value.to_csv()
    assert "argon2" not in all_text(app)


def test_preview_counts_match_dry_run(
    admin_services: Any, backend: SearchBackend, namespace: str
) -> None:
    expected = preview_apply(ADMIN, backend, namespace)

    app = session_for(admin_services, ADMIN, PAGE).run()

    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["To create"] == str(expected.count("create"))
    assert metrics["To update"] == "0"
    assert metrics["Unchanged"] == "0"
    planned = table_with(app, "action")
    assert len(planned) == expected.count("create")


def test_apply_requires_confirmation(
    admin_services: Any, backend: SearchBackend, namespace: str
) -> None:
    app = session_for(admin_services, ADMIN, PAGE).run()

    assert app.button(key=state.ADMIN_APPLY).disabled
    assert preview_apply(ADMIN, backend, namespace).count("unchanged") == 0


def test_confirmed_apply_installs_and_logs_admin(
    admin_services: Any,
    backend: SearchBackend,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="socwb.provisioning")
    app = session_for(admin_services, ADMIN, PAGE).run()
    to_create = preview_apply(ADMIN, backend, namespace).count("create")

    app.checkbox(key=state.ADMIN_APPLY_CONFIRM).check().run()
    app.button(key=state.ADMIN_APPLY).click().run()

    assert not app.exception
    after = preview_apply(ADMIN, backend, namespace)
    assert after.count("unchanged") == len(after.changes)
    assert f"Applied: {to_create} created, 0 updated, 0 unchanged." in all_text(app)
    applied = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("apply finished")
        and "dry_run=False" in record.getMessage()
    ]
    assert len(applied) == 1
    assert f"namespace={namespace} actor=adam" in applied[0]
    assert not app.checkbox(key=state.ADMIN_APPLY_CONFIRM).value


def recorded_stream(backend: SearchBackend, namespace: str) -> str:
    """Apply the assets, index two events and record their index's digest; return the index."""
    apply_assets(backend, namespace)
    stream = f"logs-edr.test-{namespace}"
    for moment in ("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"):
        backend.index_document(stream, {"@timestamp": moment}, refresh=True)
    record_digests(backend, namespace, datetime.now(UTC))
    return str(
        backend.get_json(f"/_data_stream/{stream}")["data_streams"][0]["indices"][0]["index_name"]
    )


def test_verify_without_findings(
    admin_services: Any, backend: SearchBackend, namespace: str
) -> None:
    recorded_stream(backend, namespace)
    app = session_for(admin_services, ADMIN, PAGE).run()
    assert not any(metric.label == "Indices checked" for metric in app.metric)

    app.button(key=state.ADMIN_VERIFY).click().run()

    assert not app.exception
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Indices checked"] == "1"
    assert metrics["Findings"] == "0"
    assert any("No findings" in element.value for element in app.success)


def test_verify_shows_changed_index(
    admin_services: Any, backend: SearchBackend, namespace: str
) -> None:
    index = recorded_stream(backend, namespace)
    backend.request(
        "POST",
        f"/{index}/_delete_by_query",
        params={"refresh": "true"},
        body={"query": {"term": {"@timestamp": "2026-01-01T00:01:00Z"}}},
    )
    app = session_for(admin_services, ADMIN, PAGE).run()

    app.button(key=state.ADMIN_VERIFY).click().run()

    assert not app.exception
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Findings"] == "1"
    findings = table_with(app, "kind")
    assert findings["kind"].tolist() == ["changed"]
    assert findings["index"].tolist() == [index]
