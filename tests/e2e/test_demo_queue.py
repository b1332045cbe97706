"""`socwb demo` end to end: an analyst signs in with a printed password and sees the demo's alerts.

The demo runs as the command a user types, in the test's namespace, on a free
loopback port, with its state (users, process ids, generated data) in
`tmp_path`. It generates 21 days (the minimum with planted scenarios) at a
tenth of the usual background, so generation, ingest and the first detector
pass stay within a few minutes. Teardown runs `socwb demo --stop` for the same
state folder, which stops the demo's processes and leaves the engine running,
because this demo did not start it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from socwb.search import SearchBackend

from .conftest import CHROMIUM, CHROMIUM_MISSING, ScreenshotTaker, _free_loopback_port
from .test_browser import go_to, open_app, settle

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is missing; pip install playwright"
)
Page = sync_api.Page
expect = sync_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.node,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING),
]

logger = logging.getLogger(__name__)

DEMO_DAYS = 21
DEMO_SCALE = 0.1
DEMO_START_TIMEOUT = 900.0
DEMO_STOP_TIMEOUT = 120.0
ANALYST_NAME = "demo-analyst"

PASSWORD_LINE = re.compile(r"^\s+(demo-[a-z]+)\s+(\S+)$", re.MULTILINE)
OPEN_ALERTS_LINE = re.compile(r"^detectors: (\d+) open alerts in the queue$", re.MULTILINE)
QUEUE_CAPTION = re.compile(r"^(\d+) alerts match; showing \d+ from #1\.$")


@dataclass(frozen=True)
class DemoRun:
    """What `socwb demo` printed: the workbench URL, the users' passwords, the open alerts."""

    url: str
    passwords: dict[str, str]
    open_alerts: int
    output: str


def _demo_environment(search_url: str, namespace: str) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SOCWB_")
    }
    environment.update(
        {
            "SOCWB_SEARCH__URLS": search_url,
            "SOCWB_SEARCH__NAMESPACE": namespace,
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
    )
    return environment


def _run_demo(arguments: list[str], environment: dict[str, str], cwd: Path, timeout: float) -> str:
    command = [sys.executable, "-m", "socwb", "demo", *arguments]
    completed = subprocess.run(
        command,
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited {completed.returncode}:\n{output}"
    )
    return completed.stdout


@pytest.fixture
def demo(
    search_url: str, namespace: str, backend: SearchBackend, tmp_path: Path
) -> Iterator[DemoRun]:
    """Bring the demo up in the test's namespace, and stop its processes afterwards.

    Requesting `backend` makes the namespace's indices be removed after the stop.
    """
    port = _free_loopback_port()
    state = tmp_path / "demo-state"
    environment = _demo_environment(search_url, namespace)
    arguments = ["--days", str(DEMO_DAYS), "--scale", str(DEMO_SCALE), "--port", str(port)]
    arguments += ["--state-dir", str(state)]
    try:
        output = _run_demo(arguments, environment, tmp_path, DEMO_START_TIMEOUT)
        logger.info("socwb demo output:\n%s", output)
        open_alerts = OPEN_ALERTS_LINE.search(output)
        assert open_alerts is not None, output
        yield DemoRun(
            url=f"http://127.0.0.1:{port}",
            passwords=dict(PASSWORD_LINE.findall(output)),
            open_alerts=int(open_alerts.group(1)),
            output=output,
        )
    finally:
        stop_output = _run_demo(
            ["--stop", "--state-dir", str(state)], environment, tmp_path, DEMO_STOP_TIMEOUT
        )
        logger.info("socwb demo --stop output:\n%s", stop_output)
        assert "node left running" in stop_output, stop_output


def sign_in_with(page: Page, name: str, password: str) -> None:
    go_to(page, "Home", heading="soc-workbench")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text(f"Welcome, {name}.")).to_be_visible()
    settle(page)


def test_demo_analyst_sees_alerts_in_queue(
    demo: DemoRun, page: Page, screenshot: ScreenshotTaker
) -> None:
    assert ANALYST_NAME in demo.passwords, demo.output
    assert demo.open_alerts > 0, demo.output
    assert f"workbench: {demo.url} (up)" in demo.output

    open_app(page, demo.url)
    sign_in_with(page, ANALYST_NAME, demo.passwords[ANALYST_NAME])
    go_to(page, "Alert queue")
    screenshot("demo-queue")

    caption = page.get_by_text(QUEUE_CAPTION)
    expect(caption).to_be_visible()
    caption_match = QUEUE_CAPTION.match(caption.inner_text().strip())
    assert caption_match is not None
    assert int(caption_match.group(1)) > 0
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1)
