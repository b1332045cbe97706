"""A dedicated OpenSearch node for the fault tests, separate from the shared test node.

The fault tests kill, pause and block their node, so they never use the node on
port 9200. This node runs from socwb's own node code (`socwb.node.LocalNode`)
with its own home, ports and a 512 MiB heap. Its distribution is hard-linked
from the main node's home, which `scripts/test` has already assembled, so no
download is needed.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from socwb.node import LocalNode, default_home
from socwb.node.layout import COMPLETE_MARKER, distribution_path
from socwb.processes import is_alive
from socwb.settings import NodeSettings, Settings

logger = logging.getLogger(__name__)

HTTP_PORT = 9250
TRANSPORT_PORT = 9350
HEAP = "512m"


def fault_node_home() -> Path:
    """Return the home of the fault node, next to the main node's home."""
    return default_home().parent / "fault-node"


def link_distribution(source_home: Path, target_home: Path, version: str) -> None:
    """Hard-link the assembled distribution of `source_home` into `target_home`.

    Hard links cost no space and, unlike a symbolic link, keep every path under
    the node's own home, where the server's security policy allows reads. When
    the source is missing, nothing is linked and `LocalNode` assembles one.
    """
    source = distribution_path(source_home, version)
    target = distribution_path(target_home, version)
    if (target / COMPLETE_MARKER).is_file() or not (source / COMPLETE_MARKER).is_file():
        return
    if target.exists():
        shutil.rmtree(target)
    target_home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, copy_function=os.link, symlinks=True)


class FaultNode:
    """The dedicated node, with the signals the fault tests send it."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or fault_node_home()
        self.settings = NodeSettings(
            home=self.home,
            http_port=HTTP_PORT,
            transport_port=TRANSPORT_PORT,
            heap=HEAP,
        )
        self.node = LocalNode(self.settings)
        self.url = self.node.url

    def start(self) -> None:
        """Start the node (reusing a running one) and wait until it is healthy."""
        link_distribution(default_home(), self.home, self.settings.version)
        self.node.start()

    def start_fresh(self) -> None:
        """Stop a node left from an earlier session, delete its data, and start it."""
        self.node.stop()
        shutil.rmtree(self.node.data_path, ignore_errors=True)
        shutil.rmtree(self.home / "snapshots", ignore_errors=True)
        self.start()

    def stop(self) -> None:
        """Stop the node, continuing it first when it is paused."""
        self.resume()
        self.node.stop()

    @property
    def pid(self) -> int:
        """Process id of the running node.

        Raises:
            RuntimeError: the node is not running.
        """
        pid = self.node.status().pid
        if pid is None:
            raise RuntimeError(f"the fault node in {self.home} is not running; start it first")
        return pid

    def kill(self) -> None:
        """Send SIGKILL and wait until the process is gone."""
        pid = self.pid
        logger.info("killing fault node pid=%d", pid)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.node.stop()  # reaps the child and removes the stale pid file

    def pause(self) -> int:
        """Send SIGSTOP; return the pid to pass to `resume`."""
        pid = self.pid
        logger.info("pausing fault node pid=%d", pid)
        os.kill(pid, signal.SIGSTOP)
        self._paused = pid
        return pid

    def resume(self) -> None:
        """Send SIGCONT to a node that `pause` stopped."""
        pid = getattr(self, "_paused", None)
        if pid is not None and is_alive(pid):
            logger.info("continuing fault node pid=%d", pid)
            os.kill(pid, signal.SIGCONT)
        self._paused = None

    def wait_reachable(self, timeout_s: float = 120.0) -> None:
        """Wait until the node responds to `GET /_cluster/health` with yellow or green."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                url = self.url + "/_cluster/health?wait_for_status=yellow&timeout=1s"
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the fault node at {self.url} was not healthy after {timeout_s}s")


def fault_settings(url: str, namespace: str, **search: Any) -> Settings:
    """Settings for `url` with short timeouts and backoff, overridable per field."""
    options: dict[str, Any] = {
        "urls": [url],
        "namespace": namespace,
        "request_timeout": 5.0,
        "max_retries": 2,
        "retry_backoff_initial": 0.2,
        "retry_backoff_max": 2.0,
    }
    options.update(search)
    return Settings(_env_file=None, search=options)  # type: ignore[call-arg]
