"""The Health page with AppTest against the real engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socwb.auth import Principal, Role
from socwb.checkpoints import RunRecord, RunStore
from socwb.search import SearchBackend

from . import test_pages
from .test_pages import PASSWORD, all_text, page, state

# The page tests' fixture, bound under its own name so pytest finds it here too.
services = test_pages.services

HEALTH = "pages/9_Health.py"


def test_health_page_needs_sign_in(services: object) -> None:
    app = page(HEALTH).run()

    assert "Sign in on the Home page" in all_text(app)
    assert not app.dataframe


@pytest.mark.parametrize("role", list(Role))
def test_health_page_shows_failed_run(
    services: object, backend: SearchBackend, namespace: str, role: Role
) -> None:
    runs = RunStore(backend, namespace)
    runs.ensure_index()
    runs.write(
        RunRecord(
            run_id="r1",
            rule_id="auth_failure_spike",
            started_at=datetime.now(UTC),
            outcome="failed",
            error="SearchUnavailableError: timed out",
        )
    )
    name = f"health-{role.value}"
    services.users.add(name, PASSWORD, [role])  # type: ignore[attr-defined]
    session = services.sessions.start(  # type: ignore[attr-defined]
        Principal(name, frozenset({role})), now=datetime.now(UTC)
    )
    app = page(HEALTH)
    app.session_state[state.SESSION_ID] = session.session_id
    app.run()

    text = all_text(app)
    assert not app.exception
    assert "Search engine reachable" in "\n".join(item.value for item in app.success)
    assert "rule auth_failure_spike: last run failed: SearchUnavailableError: timed out" in text
    assert len(app.dataframe) == 1
