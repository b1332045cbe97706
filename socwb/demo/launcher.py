"""``socwb demo``: bring up the whole product on real and generated data, and stop it again.

The steps are idempotent, so a rerun reuses what is there: the generated
period is kept per start date, ingest skips documents it already wrote (the
ids are deterministic), users are created only once, and running processes
are left alone.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from socwb.alerts.store import AlertStore
from socwb.assets import repository_root
from socwb.auth import Role, UsersFile
from socwb.demo.generator import generate
from socwb.demo.manifest import Manifest, load_manifest
from socwb.detection import Detector
from socwb.errors import WorkbenchError
from socwb.ingest.geo import create_geo_lookup
from socwb.ingest.model import GeoLookup
from socwb.ingest.pipeline import IngestOptions, InputFormatError, run_ingest
from socwb.processes import is_alive
from socwb.provisioning import apply_assets
from socwb.rules.catalog import builtin_rules
from socwb.search import SearchBackend
from socwb.settings import Settings

logger = logging.getLogger(__name__)

DEMO_SEED = 7
PASSWORD_BYTES = 12
STOP_TIMEOUT_S = 20.0

Echo = Callable[[str], None]


@dataclass
class DemoState:
    """Files of one demo installation under its state directory."""

    directory: Path

    @property
    def users_file(self) -> Path:
        """The demo's own users file, so it never touches a real one."""
        return self.directory / "users.json"

    @property
    def pid_file(self) -> Path:
        """Process ids of the detector service and the workbench."""
        return self.directory / "processes.json"

    @property
    def data_directory(self) -> Path:
        """Where generated periods are written, one folder per start date."""
        return self.directory / "generated"

    @property
    def node_marker(self) -> Path:
        """Marker file that exists while the local node runs because this demo started it."""
        return self.directory / "node-started-by-demo"

    def log_file(self, name: str) -> Path:
        """Return the log file of one background process."""
        return self.directory / f"{name}.log"


@dataclass
class LoadReport:
    """Counts of one data load."""

    files: int = 0
    indexed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    skipped: list[str] = field(default_factory=list)
    alerts: int = 0


def default_state_directory() -> Path:
    """Return the demo's state directory, beside the node's files."""
    if os.geteuid() == 0:
        return Path("/var/lib/socwb/demo")
    return Path.home() / ".cache" / "socwb" / "demo"


def generated_period(
    state: DemoState, days: int, today: datetime, echo: Echo, scale: float = 1.0
) -> Path:
    """Return a generated period ending today, writing it unless it exists already."""
    start = (today - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    name = f"{start:%Y-%m-%d}-{days}d-seed{DEMO_SEED}"
    if scale != 1.0:
        name += f"-scale{scale:g}"
    folder = state.data_directory / name
    if (folder / "manifest.json").is_file():
        echo(f"generated data: reusing {folder}")
        return folder
    echo(f"generated data: writing {days} days from {start:%Y-%m-%d} to {folder}")
    generate(folder, seed=DEMO_SEED, start=start, days=days, scale=scale)
    return folder


def load_data(backend: SearchBackend, settings: Settings, period: Path, echo: Echo) -> LoadReport:
    """Apply the assets, then ingest the shipped samples and the generated period."""
    namespace = settings.search.namespace
    apply_assets(backend, namespace)
    report = LoadReport()
    geo = create_geo_lookup()
    samples = repository_root() / "demo_data" / "samples"
    for source_folder in sorted(path for path in samples.iterdir() if path.is_dir()):
        if source_folder.name == "LICENSES":
            continue
        for sample in sorted(source_folder.iterdir()):
            options = IngestOptions(source=source_folder.name, namespace=namespace, geo=geo)
            _ingest(backend, [sample], options, report)
    manifest = load_manifest(period)
    for folder, options in generated_inputs(manifest, period, namespace, geo):
        _ingest(backend, [folder], options, report)
    echo(
        f"ingested {report.files} inputs: {report.indexed} indexed, "
        f"{report.duplicates} already present, {report.dead_lettered} dead-lettered"
    )
    return report


def generated_inputs(
    manifest: Manifest, period: Path, namespace: str, geo: GeoLookup
) -> list[tuple[Path, IngestOptions]]:
    """Return each generated folder (logs and metric documents) with the options to ingest it."""
    folders = {}
    for entry in manifest.files:
        folder = (period / entry.path).parent
        folders[folder] = (entry.source, entry.format)

    inputs = []
    for folder, (source, format_name) in sorted(folders.items()):
        options = IngestOptions(
            source=source,
            namespace=namespace,
            format_name=format_name,
            default_year=manifest.syslog_year,
            timezone=manifest.timezone,
            geo=geo,
        )
        inputs.append((folder, options))
    return inputs


def _ingest(
    backend: SearchBackend, paths: list[Path], options: IngestOptions, report: LoadReport
) -> None:
    try:
        summary = run_ingest(backend, [str(path) for path in paths], options)
    except InputFormatError as exc:
        logger.warning("demo input skipped paths=%s error=%s", paths, exc)
        report.skipped.append(f"{paths[0].name}: {exc}")
        return
    totals = summary.totals
    report.files += len(summary.files)
    report.indexed += totals.indexed
    report.duplicates += totals.duplicates
    report.dead_lettered += totals.deadlettered


def run_detectors_once(backend: SearchBackend, settings: Settings, manifest: Manifest) -> int:
    """Run every rule over what arrived, and return the number of open alerts."""
    detector_settings = settings.detectors.model_copy(
        update={"ingest_delay": timedelta(0), "first_run_lookback": timedelta(hours=6)}
    )
    privileged = sorted(set(settings.detectors.privileged_users) | set(manifest.privileged_users))
    backend.refresh(f"logs-*-{settings.search.namespace}")
    # Business hours are judged in the zone the generated organisation works in.
    organisation = settings.organisation.model_copy(update={"timezone": manifest.timezone})
    detector = Detector(
        backend,
        settings.search.namespace,
        clock=lambda: datetime.now(UTC),
        settings=detector_settings,
        organisation=organisation,
    )
    detector.ensure_indices()
    for rule in builtin_rules(privileged):
        try:
            for _ in range(40):
                record = detector.run(rule)
                if not record.is_backfilled:
                    break
        except WorkbenchError:
            # One failing rule must not stop the others; the run record keeps the error.
            logger.exception("demo detector run failed rule=%s", rule.id)
    store = AlertStore(backend, settings.search.namespace)
    store.refresh()
    return len(store.search({"term": {"status": "open"}}))


def create_users(users_file: Path) -> dict[str, str]:
    """Create one demo user per role with a random password; return name to password.

    Users that exist already keep their passwords, which are not shown again.
    """
    users = UsersFile(users_file)
    existing = {record.name for record in users.load()}
    created = {}
    for role in Role:
        name = f"demo-{role.value}"
        if name in existing:
            continue
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        users.add(name, password, [role])
        created[name] = password
    return created


def start_processes(
    state: DemoState, settings: Settings, port: int, manifest: Manifest
) -> dict[str, int]:
    """Start the detector service and the workbench in the background unless running."""
    running = running_processes(state)
    environment = _demo_environment(state, settings, manifest)

    for name, command in _demo_commands(port).items():
        if name in running:
            continue
        with open(state.log_file(name), "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=repository_root(),
                start_new_session=True,
            )
        running[name] = process.pid
        logger.info("demo process started name=%s pid=%d", name, process.pid)

    state.pid_file.write_text(json.dumps(running), encoding="utf-8")
    return running


def _demo_environment(state: DemoState, settings: Settings, manifest: Manifest) -> dict[str, str]:
    """Return the demo processes' environment.

    It sets the generated organisation's zone and administrators, the demo's
    users file and the namespace.
    """
    environment = dict(os.environ)
    environment["SOCWB_ORGANISATION__TIMEZONE"] = manifest.timezone
    privileged = sorted(set(settings.detectors.privileged_users) | set(manifest.privileged_users))
    environment["SOCWB_DETECTORS__PRIVILEGED_USERS"] = ",".join(privileged)
    environment["SOCWB_WORKBENCH__USERS_FILE"] = str(state.users_file)
    environment["SOCWB_SEARCH__NAMESPACE"] = settings.search.namespace
    return environment


def _demo_commands(port: int) -> dict[str, list[str]]:
    workbench = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(repository_root() / "app" / "Home.py"),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
    ]
    return {
        "detectors": [sys.executable, "-m", "socwb", "detect", "serve"],
        "workbench": workbench,
    }


def running_processes(state: DemoState) -> dict[str, int]:
    """Return the demo processes recorded in the pid file that still run."""
    try:
        recorded = json.loads(state.pid_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {name: pid for name, pid in recorded.items() if is_alive(pid)}


def stop_processes(state: DemoState) -> list[str]:
    """Stop the demo processes with SIGTERM (SIGKILL after a timeout); return their names."""
    stopped = []
    for name, pid in running_processes(state).items():
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if is_alive(pid):
            logger.warning("demo process did not stop, killing name=%s pid=%d", name, pid)
            os.killpg(pid, signal.SIGKILL)
        stopped.append(name)
        logger.info("demo process stopped name=%s pid=%d", name, pid)
    state.pid_file.unlink(missing_ok=True)
    return stopped


def wait_for_http(url: str, timeout: float) -> bool:
    """Return True once ``url`` responds with HTTP 200, False after ``timeout`` seconds."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


class DemoError(WorkbenchError):
    """The demo could not be brought up."""
