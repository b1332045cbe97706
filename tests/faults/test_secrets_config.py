"""Secrets stay out of logs, messages and error pages; a missing secret stops the program.

Commands run as a separate `python -m socwb` process in an empty working
directory (no `.env`), with only the SOCWB_* variables each test sets. The
engine URL is a closed loopback port, so every request fails at once.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .app_fixtures import APP, PAGE_TIMEOUT, PASSWORD, app_backend, app_state

SEARCH_USER = "socwb_reader"
SEARCH_PASSWORD = "Fault-Test-Pass-4917"
"""A password that must never appear in any output, plain or in a basic-auth header."""

TLS_URL = "https://127.0.0.1:9"
"""An https URL on loopback; the tests that use it stop before any connection."""

SECRET_FORMS = (
    SEARCH_PASSWORD,
    base64.b64encode(f"{SEARCH_USER}:{SEARCH_PASSWORD}".encode()).decode(),
)


def _closed_port() -> int:
    """Return a loopback port with no listener (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _run_socwb(
    tmp_path: Path, variables: dict[str, str], *arguments: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SOCWB_")
    }
    environment.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "socwb", *arguments],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _unreachable_engine() -> dict[str, str]:
    return {
        "SOCWB_SEARCH__URLS": f"http://127.0.0.1:{_closed_port()}",
        "SOCWB_SEARCH__USERNAME": SEARCH_USER,
        "SOCWB_SEARCH__PASSWORD": SEARCH_PASSWORD,
        "SOCWB_SEARCH__MAX_RETRIES": "0",
        "SOCWB_LOG_LEVEL": "DEBUG",
    }


def _assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text


@pytest.mark.parametrize("arguments", [("info",), ("detect", "run"), ("coverage",)])
def test_failed_command_logs_no_password(tmp_path: Path, arguments: tuple[str, ...]) -> None:
    result = _run_socwb(tmp_path, _unreachable_engine(), *arguments)

    assert result.returncode == 1
    assert "SearchUnavailableError" in result.stderr
    assert "DEBUG" in result.stderr
    _assert_no_secret(result.stdout + result.stderr)


def test_config_output_masks_password(tmp_path: Path) -> None:
    result = _run_socwb(tmp_path, _unreachable_engine(), "config")

    assert result.returncode == 0
    assert SEARCH_USER in result.stdout
    _assert_no_secret(result.stdout + result.stderr)


def test_invalid_settings_message_masks_password(tmp_path: Path) -> None:
    variables = {**_unreachable_engine(), "SOCWB_SEARCH__REQUEST_TIMEOUT": "-1"}
    del variables["SOCWB_SEARCH__USERNAME"]

    result = _run_socwb(tmp_path, variables, "info")

    assert result.returncode == 2
    assert "SOCWB_SEARCH" in result.stderr
    _assert_no_secret(result.stdout + result.stderr)


def test_workbench_error_page_shows_no_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in _unreachable_engine().items():
        monkeypatch.setenv(name, value)
    app_backend.use_services(None)
    app_backend._services_from_settings.clear()
    monkeypatch.chdir(tmp_path)

    app = AppTest.from_file(str(APP / "Home.py"), default_timeout=PAGE_TIMEOUT).run()
    # Signing in is the first step that builds the services, so it meets the engine.
    app.text_input(key=app_state.SIGN_IN_NAME).input("ana")
    app.text_input(key=app_state.SIGN_IN_PASSWORD).input(PASSWORD)
    app.button(key=app_state.SIGN_IN_BUTTON).click().run()
    shown = [element.message + "\n".join(element.stack_trace) for element in app.exception]

    assert len(shown) == 1
    assert "SearchUnavailableError" in shown[0]
    _assert_no_secret("\n".join(shown))


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"SOCWB_SEARCH__URLS": TLS_URL, "SOCWB_SEARCH__USERNAME": SEARCH_USER},
            "set SOCWB_SEARCH__PASSWORD",
        ),
        (
            {"SOCWB_SEARCH__URLS": TLS_URL, "SOCWB_SEARCH__PASSWORD": SEARCH_PASSWORD},
            "set SOCWB_SEARCH__USERNAME",
        ),
        (
            {"SOCWB_SEARCH__URLS": f"https://{SEARCH_USER}:{SEARCH_PASSWORD}@127.0.0.1:9"},
            "must not contain a user name or password",
        ),
    ],
)
def test_missing_search_secret_stops_start(
    tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    result = _run_socwb(tmp_path, variables, "info")

    assert result.returncode == 2
    assert result.stderr.startswith("ConfigurationError: invalid setting")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    _assert_no_secret(result.stdout + result.stderr)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({"kind": "pagerduty", "name": "oncall"}, "routing_key: Field required"),
        ({"kind": "slack", "name": "soc"}, "url: Field required"),
        (
            {
                "kind": "smtp",
                "name": "mail",
                "host": "127.0.0.1",
                "sender": "socwb@example.org",
                "recipients": ["soc@example.org"],
                "username": "socwb",
            },
            "has a login without its password",
        ),
    ],
)
def test_channel_without_secret_stops_start(
    tmp_path: Path, channel: dict[str, object], expected: str
) -> None:
    config = tmp_path / "channels.json"
    config.write_text(json.dumps({"channels": [channel], "notify_channels": [channel["name"]]}))
    variables = {"SOCWB_SEARCH__URLS": f"http://127.0.0.1:{_closed_port()}"}

    result = _run_socwb(tmp_path, variables, "notify", "run", "--config", str(config))

    assert result.returncode == 2
    assert result.stderr.startswith("ConfigurationError: invalid notification settings")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
