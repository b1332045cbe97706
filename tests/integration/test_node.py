"""The local node: start twice, status, stop, and clear errors when Java or Maven is missing.

These tests run a second node on free ports beside the session's node, sharing
its assembled distribution through a symbolic link so no download happens.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from socwb.node import LocalNode, default_home
from socwb.node.layout import distribution_path
from socwb.settings import NodeSettings

pytestmark = [pytest.mark.node, pytest.mark.slow]

SOCWB = [sys.executable, "-m", "socwb"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def node_home() -> Iterator[Path]:
    # Outside pytest's private temporary folder: as root the node runs as a
    # service user, who must be able to enter this directory.
    home = Path(tempfile.mkdtemp(prefix="socwb-node-test-", dir="/var/tmp"))
    home.chmod(0o755)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def node_settings(node_home: Path, search_url: str) -> NodeSettings:
    settings = NodeSettings(
        home=node_home,
        http_port=_free_port(),
        transport_port=_free_port(),
        heap="512m",
    )
    shared = distribution_path(default_home(), settings.version)
    if shared.is_dir():
        distribution_path(node_home, settings.version).symlink_to(shared)
    return settings


def _environment(settings: NodeSettings, **extra: str) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SOCWB_")
    }
    environment.update(
        SOCWB_NODE__HOME=str(settings.home),
        SOCWB_NODE__HTTP_PORT=str(settings.http_port),
        SOCWB_NODE__TRANSPORT_PORT=str(settings.transport_port),
        SOCWB_NODE__HEAP=settings.heap,
    )
    environment.update(extra)
    return environment


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3):
            return True
    except OSError:
        return False


def test_start_twice_status_and_stop(node_settings: NodeSettings) -> None:
    node = LocalNode(node_settings)

    first, started_first = node.start()
    second, started_second = node.start()
    status = subprocess.run(
        [*SOCWB, "node", "status"],
        env=_environment(node_settings),
        capture_output=True,
        text=True,
        check=False,
    )
    stopped = node.stop()

    assert started_first is True
    assert started_second is False
    assert second.pid == first.pid
    assert first.health in ("green", "yellow")
    assert first.version == node_settings.version
    assert "opensearch-job-scheduler" in first.plugins
    assert status.returncode == 0, status.stderr
    assert f"url:      {node.url}" in status.stdout
    assert f"version:  {node_settings.version}" in status.stdout
    assert stopped is True
    assert node.status().is_running is False
    assert not _answers(node.url)


def test_status_of_stopped_node_exits_1(node_settings: NodeSettings) -> None:
    result = subprocess.run(
        [*SOCWB, "node", "status"],
        env=_environment(node_settings),
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "running:  no" in result.stdout


def test_stop_without_running_node_says_so(node_settings: NodeSettings) -> None:
    assert LocalNode(node_settings).stop() is False


def test_start_with_java_home_nowhere_fails_clearly(node_settings: NodeSettings) -> None:
    result = subprocess.run(
        [*SOCWB, "node", "start"],
        env=_environment(node_settings, JAVA_HOME="/nowhere"),
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "ToolMissingError: no java executable at /nowhere/bin/java" in result.stderr
    assert "Java 17" in result.stderr


def test_start_without_maven_names_the_fix(node_settings: NodeSettings, tmp_path: Path) -> None:
    java = shutil.which("java")
    assert java is not None
    java_home = Path(os.path.realpath(java)).parent.parent
    fresh_home = Path(tempfile.mkdtemp(prefix="socwb-node-nomvn-", dir="/var/tmp"))
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()

    result = subprocess.run(
        [*SOCWB, "node", "start"],
        env=_environment(
            node_settings,
            SOCWB_NODE__HOME=str(fresh_home),
            JAVA_HOME=str(java_home),
            PATH=str(empty_bin),
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(fresh_home, ignore_errors=True)

    assert result.returncode == 1
    assert "ToolMissingError: mvn was not found on PATH" in result.stderr
    assert "apt-get install maven" in result.stderr
