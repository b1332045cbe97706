"""Start, check and stop the local single-node OpenSearch in the background."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socwb.errors import NodeError, ToolMissingError
from socwb.node.artifacts import find_java, find_maven
from socwb.node.layout import (
    Distribution,
    assemble,
    install_plugin_zip,
    load_distribution,
    write_config,
)
from socwb.processes import command_line, is_alive
from socwb.settings import NodeSettings

logger = logging.getLogger(__name__)

MAIN_CLASS = "org.opensearch.bootstrap.OpenSearch"
STOP_TIMEOUT_S = 60.0
ISM_PATH = "/_plugins/_ism/policies"

# Nodes started by this process, kept so they are reaped on stop instead of
# being garbage collected while running, which Python reports as a leak.
_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class NodeStatus:
    """Node state as ``socwb node status`` prints it."""

    is_running: bool
    url: str
    pid: int | None = None
    version: str | None = None
    health: str | None = None
    plugins: list[str] = field(default_factory=list)
    has_ism: bool = False
    missing_artifacts: list[str] = field(default_factory=list)
    home: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the status as plain JSON-ready values."""
        return {
            "running": self.is_running,
            "url": self.url,
            "pid": self.pid,
            "version": self.version,
            "health": self.health,
            "plugins": self.plugins,
            "ism": self.has_ism,
            "missing_artifacts": self.missing_artifacts,
            "home": str(self.home) if self.home else None,
        }


def default_home() -> Path:
    """Return the node directory used when none is configured.

    OpenSearch refuses to run as root, so as root the node runs as a service
    user and its files live outside /root, which that user cannot enter.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/socwb/node")
    return Path.home() / ".cache" / "socwb" / "node"


class LocalNode:
    """The local node described by ``NodeSettings``."""

    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.home = settings.home or default_home()
        self.url = f"http://127.0.0.1:{settings.http_port}"
        self.data_path = settings.data_path or self.home / "data"
        self.pid_file = self.home / "run" / "node.pid"
        self.console_log = self.home / "logs" / "console.log"

    def status(self) -> NodeStatus:
        """Report whether the node runs, and its version, health and plugins."""
        distribution = load_distribution(self.home, self.settings.version)
        missing = distribution.missing if distribution else []
        pid = self._running_pid()
        status = NodeStatus(False, self.url, pid, missing_artifacts=missing, home=self.home)
        root = _get_json(self.url + "/")
        if pid is None or root is None:
            return status
        status.is_running = True
        status.version = str(root.get("version", {}).get("number"))
        health = _get_json(self.url + "/_cluster/health")
        status.health = str(health.get("status")) if health else None
        rows = _get_json(self.url + "/_cat/plugins?format=json") or []
        status.plugins = sorted({str(row.get("component")) for row in rows})
        status.has_ism = "opensearch-index-management" in status.plugins
        return status

    def start(self) -> tuple[NodeStatus, bool]:
        """Start the node unless it runs already, and wait until it is healthy.

        Returns:
            The status, and True when this call started the node (False when
            a running node was reused).

        Raises:
            ToolMissingError: Java 17+ or Maven is missing.
            ArtifactResolutionError: an artifact is not on Maven Central.
            NodeError: the port is taken, or the node exited or stayed unhealthy.
        """
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.pid_file.with_suffix(".lock"), "w", encoding="utf-8") as lock:
            # Two callers starting at once would race for the data directory's lock.
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._start_locked()

    def _start_locked(self) -> tuple[NodeStatus, bool]:
        current = self.status()
        if current.is_running:
            logger.info("node already running pid=%s url=%s", current.pid, self.url)
            return current, False
        if _get_json(self.url + "/") is not None:
            raise NodeError(
                f"port {self.settings.http_port} already responds at {self.url} but not from a "
                f"node started from {self.home}; stop that process or set SOCWB_NODE__HTTP_PORT"
            )

        java, java_major = find_java(self.settings.java_home)
        distribution = self._distribution()
        self._prepare_directories(distribution)
        command = self._command(java, java_major, distribution)
        pid = self._spawn(command)
        logger.info("node starting pid=%d url=%s home=%s", pid, self.url, self.home)
        return self._wait_until_healthy(pid, distribution), True

    def stop(self) -> bool:
        """Stop the node with SIGTERM, then SIGKILL after a minute.

        Returns:
            True when a running node was stopped, False when none was running.
        """
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        logger.info("node stopping pid=%d", pid)
        os.kill(pid, signal.SIGTERM)
        if not _wait_for_exit(pid, STOP_TIMEOUT_S):
            logger.warning("node did not stop in %.0fs, killing pid=%d", STOP_TIMEOUT_S, pid)
            os.kill(pid, signal.SIGKILL)
            _wait_for_exit(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)
        logger.info("node stopped pid=%d", pid)
        return True

    def _distribution(self) -> Distribution:
        distribution = load_distribution(self.home, self.settings.version)
        if distribution is None:
            distribution = self._assemble()
        for archive in self.settings.plugin_zips:
            install_plugin_zip(distribution, archive)
        return distribution

    def _assemble(self) -> Distribution:
        maven = find_maven()
        logger.info("assembling OpenSearch version=%s home=%s", self.settings.version, self.home)
        started = time.monotonic()
        distribution = assemble(self.home, self.settings.version, maven, self.settings.java_home)
        logger.info(
            "assembled OpenSearch version=%s seconds=%.1f plugins=%s missing=%s",
            self.settings.version,
            time.monotonic() - started,
            ",".join(distribution.plugins),
            ",".join(distribution.missing) or "none",
        )
        return distribution

    def _prepare_directories(self, distribution: Distribution) -> None:
        for directory in ("config", "logs", "tmp", "run", "snapshots"):
            (self.home / directory).mkdir(parents=True, exist_ok=True)
        self.data_path.mkdir(parents=True, exist_ok=True)
        write_config(
            self.home / "config",
            http_port=self.settings.http_port,
            transport_port=self.settings.transport_port,
            data_path=self.data_path,
            logs_path=self.home / "logs",
            repo_path=self.home / "snapshots",
            has_ism="opensearch-index-management" in distribution.plugins,
        )
        if os.geteuid() == 0:
            user = self._service_user()
            for directory in ("config", "logs", "tmp", "snapshots"):
                _chown_tree(self.home / directory, user)
            _chown_tree(self.data_path, user)

    def _command(self, java: Path, java_major: int, distribution: Distribution) -> list[str]:
        heap = self.settings.heap
        options = [
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:-OmitStackTraceInFastThrow",
            "-Dfile.encoding=UTF-8",
            "-Djna.nosys=true",
            "-Dio.netty.noUnsafe=true",
            "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-Dlog4j2.formatMsgNoLookups=true",
            # The default selector walks class loaders, which the security
            # manager denies inside the shutdown hook, so a stop took 30 s.
            "-Dlog4j2.contextSelector=org.apache.logging.log4j.core.selector.BasicContextSelector",
            "-Djava.locale.providers=SPI,COMPAT",
            f"-Djava.io.tmpdir={self.home / 'tmp'}",
            f"-Dopensearch.path.home={distribution.path}",
            f"-Dopensearch.path.conf={self.home / 'config'}",
            "-Dopensearch.distribution.type=tar",
            "-Dopensearch.bundled_jdk=false",
        ]
        if java_major >= 18:
            # OpenSearch 2.x installs a security manager, which Java 18+ allows
            # only when asked to.
            options.append("-Djava.security.manager=allow")
        command = [str(java), *options, "-cp", f"{distribution.lib}/*", MAIN_CLASS]
        if os.geteuid() == 0:
            user = self._service_user()
            command = _drop_privileges_prefix(user) + command
        return command

    def _spawn(self, command: list[str]) -> int:
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.console_log, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid), encoding="utf-8")
        _SPAWNED[process.pid] = process
        return process.pid

    def _wait_until_healthy(self, pid: int, distribution: Distribution) -> NodeStatus:
        deadline = time.monotonic() + self.settings.start_timeout
        wants_ism = "opensearch-index-management" in distribution.plugins
        while time.monotonic() < deadline:
            if not is_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                _reap(pid)
                raise NodeError(
                    f"the node exited during start; last lines of {self.console_log}:\n"
                    + _tail(self.console_log, 15)
                )
            health = _get_json(self.url + "/_cluster/health?wait_for_status=yellow&timeout=1s")
            ready = health is not None and health.get("status") in ("yellow", "green")
            if ready and (not wants_ism or _get_json(self.url + ISM_PATH) is not None):
                status = self.status()
                logger.info(
                    "node started pid=%d version=%s health=%s plugins=%s",
                    pid,
                    status.version,
                    status.health,
                    ",".join(status.plugins),
                )
                return status
            time.sleep(1.0)
        raise NodeError(
            f"the node did not become healthy within {self.settings.start_timeout:.0f}s; "
            f"see {self.console_log} or raise SOCWB_NODE__START_TIMEOUT"
        )

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return self._adopt_running_node()
        if not is_alive(pid) or MAIN_CLASS not in command_line(pid):
            return self._adopt_running_node()
        return pid

    def _adopt_running_node(self) -> int | None:
        """Find a node of this home whose pid file was lost, and record its pid again."""
        marker = f"-Dopensearch.path.conf={self.home / 'config'} "
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            line = command_line(int(entry.name)) + " "
            if MAIN_CLASS in line and marker in line and is_alive(int(entry.name)):
                logger.warning("node pid file was missing, adopting pid=%s", entry.name)
                self.pid_file.parent.mkdir(parents=True, exist_ok=True)
                self.pid_file.write_text(entry.name, encoding="utf-8")
                return int(entry.name)
        return None

    def _service_user(self) -> str:
        user = self.settings.service_user
        try:
            pwd.getpwnam(user)
        except KeyError:
            _create_service_user(user)
        return user


def _drop_privileges_prefix(user: str) -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ToolMissingError(
            "OpenSearch does not run as root, and setpriv (util-linux) was not found; "
            "run socwb as an unprivileged user or install util-linux"
        )
    return [setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups"]


def _create_service_user(user: str) -> None:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise ToolMissingError(
            f"service user {user!r} does not exist and useradd was not found; create the "
            "user or run socwb as an unprivileged user"
        )
    logger.info("creating service user=%s", user)
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
        check=True,
        capture_output=True,
    )


def _chown_tree(path: Path, user: str) -> None:
    shutil.chown(path, user, user)
    for child in path.rglob("*"):
        shutil.chown(child, user, user)


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            _reap(pid)
            return True
        time.sleep(0.5)
    return False


def _reap(pid: int) -> None:
    process = _SPAWNED.pop(pid, None)
    if process is not None:
        process.wait(timeout=10)
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
