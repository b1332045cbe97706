"""Fixtures for browser tests: the Streamlit app as a subprocess, its users, alerts and Chromium.

Each test gets its own namespace (the `namespace` fixture of tests/conftest.py), a
users file with an analyst and two reviewers, and an app server on a free
loopback port that reads both through SOCWB_* variables. The browser is the
Debian Chromium at /usr/bin/chromium driven by Playwright; tests skip when it
is absent.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from socwb.alerts.model import Alert, EntityValue
from socwb.alerts.store import AlertStore
from socwb.auth import Role, UsersFile
from socwb.rules.model import Severity
from socwb.search import SearchBackend

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_HOME = REPO_ROOT / "app" / "Home.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = f"{CHROMIUM} is missing; install it with scripts/install-browser"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"

# Flags for a headless Chromium that runs as root in a container. The
# background-networking, component-update and sync flags turn off Chromium's
# own background requests, which fail on a machine without internet access.
# --disable-dev-shm-usage is set here because Debian's launcher
# (/etc/chromium.d/dev-shm) adds it only when its findmnt check of free space
# in /dev/shm succeeds, and that check fails when findmnt prints two lines.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Streamlit scrolls inside its main container, not the document, so a
# screenshot shows only the viewport. A tall viewport keeps most pages whole.
VIEWPORT = {"width": 1400, "height": 2000}

SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 10.0
PASSWORD = "browser test password 1"


@dataclass(frozen=True)
class User:
    """A user of the test's users file."""

    name: str
    role: Role


ANALYST = User("ana", Role.ANALYST)
REVIEWER = User("rita", Role.REVIEWER)
SECOND_REVIEWER = User("rene", Role.REVIEWER)


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    """A users file with an analyst and two reviewers, all with `PASSWORD`."""
    path = tmp_path / "users" / "users.json"
    users = UsersFile(path)
    for user in (ANALYST, REVIEWER, SECOND_REVIEWER):
        users.add(user.name, PASSWORD, [user.role])
    return path


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_environment(search_url: str, namespace: str, users_file: Path) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SOCWB_")
    }
    environment.update(
        {
            "SOCWB_SEARCH__URLS": search_url,
            "SOCWB_SEARCH__NAMESPACE": namespace,
            "SOCWB_WORKBENCH__USERS_FILE": str(users_file),
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
    )
    return environment


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log = log_file.read_text(errors="replace")
            raise RuntimeError(f"streamlit exited with code {server.returncode}:\n{log}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    log = log_file.read_text(errors="replace")
    raise RuntimeError(
        f"streamlit at {url} was not healthy after {SERVER_START_TIMEOUT:.0f} s:\n{log}"
    )


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture
def app_url(
    search_url: str, namespace: str, users_file: Path, backend: SearchBackend, tmp_path: Path
) -> Iterator[str]:
    """Base URL of the workbench served for this test's namespace and users file.

    The server runs in `tmp_path`, so a `.env` or `.streamlit/` directory in the
    developer's working directory cannot change its settings. Its output goes to
    `tmp_path/streamlit.log`. Requesting `backend` makes the namespace's indices
    be removed after the server stops.
    """
    port = _free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_HOME),
        "--server.headless=true",
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
        "--global.developmentMode=false",
    ]
    with log_file.open("wb") as log:
        server = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=_server_environment(search_url, namespace, users_file),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, server, log_file)
        yield url
    finally:
        _stop(server)


def build_alert(*, created_at: datetime, user: str = "alice") -> Alert:
    """Return a high-severity alert with a random id, due one hour after it was created."""
    return Alert(
        id=uuid.uuid4().hex,
        rule_id="auth_failure_spike",
        rule_name="auth failure spike",
        severity=Severity.HIGH,
        created_at=created_at,
        due_at=created_at + timedelta(hours=1),
        updated_at=created_at,
        last_seen=created_at,
        entity=[EntityValue(field="user.name", value=user)],
        entity_key=f"user.name={user}",
        first_event=created_at - timedelta(minutes=5),
        last_event=created_at,
        count=12,
        criteria=["CC7.2"],
        policy_clause="Authentication failure spike",
        flags={},
        run_id="run-browser-test",
    )


AlertFactory = Callable[..., Alert]


@pytest.fixture
def make_alert(backend: SearchBackend, namespace: str) -> AlertFactory:
    """Write an alert to the test's namespace with `AlertStore` and return it."""
    store = AlertStore(backend, namespace)
    store.ensure_index()

    def create(**arguments: Any) -> Alert:
        arguments.setdefault("created_at", datetime.now(UTC) - timedelta(minutes=10))
        alert = build_alert(**arguments)
        assert store.create_many([alert]) == []
        store.refresh()
        return alert

    return create


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Debian Chromium for the session."""
    from playwright.sync_api import sync_playwright

    # Playwright's launch() gives the browser a new, empty temporary profile
    # (user data directory) and removes it on close.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a new browser context that accepts downloads."""
    context = browser.new_context(accept_downloads=True, viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


ScreenshotTaker = Callable[[str], Path]


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> ScreenshotTaker:
    """Save a PNG of the viewport as test-artifacts/screenshots/<test>-<nn>-<step>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    saved_paths: list[Path] = []

    def take(step: str) -> Path:
        path = SCREENSHOTS / f"{test_name}-{len(saved_paths) + 1:02d}-{step}.png"
        page.screenshot(path=str(path))
        saved_paths.append(path)
        return path

    return take
