"""The control matrix page with AppTest against the real engine."""

from __future__ import annotations

import pytest

from .test_pages import TIMEOUT, page, services, signed_in

__all__ = ["services"]

pytestmark = pytest.mark.node

PAGE = "pages/5_Control_matrix.py"


def test_matrix_page_without_session_shows_no_data(services: object) -> None:
    app = page(PAGE).run()

    assert not app.exception
    assert "Sign in on the Home page" in app.warning[0].value
    assert len(app.dataframe) == 0


def test_matrix_page_lists_rules_by_source(services: object) -> None:
    app = signed_in(services, PAGE).run(timeout=TIMEOUT)

    assert not app.exception
    matrix = app.dataframe[0].value
    controls = app.dataframe[1].value
    assert "Malware detected on an endpoint" in matrix["alert type"].tolist()
    assert set(matrix["canary passing"]) == {"NO"}
    assert set(matrix["rule live"]) == {"NO"}
    assert "check.selftest" in controls["control"].tolist()
    assert app.metric[0].value == str(len(matrix))
