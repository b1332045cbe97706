"""The `socwb demo` command: the whole product on real sample logs and a generated month."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from socwb.demo.launcher import (
    DemoState,
    create_users,
    default_state_directory,
    generated_period,
    load_data,
    run_detectors_once,
    start_processes,
    stop_processes,
    wait_for_http,
)
from socwb.demo.manifest import load_manifest
from socwb.node import LocalNode
from socwb.search import create_backend
from socwb.settings import LOCAL_NODE_URL, Settings

logger = logging.getLogger(__name__)


@click.command("demo")
@click.option(
    "--days",
    type=click.IntRange(21, 90),
    default=30,
    show_default=True,
    help="Length of the generated period, ending today.",
)
@click.option(
    "--port",
    type=click.IntRange(1024, 65535),
    default=8501,
    show_default=True,
    help="Port of the workbench on 127.0.0.1.",
)
@click.option(
    "--scale",
    type=click.FloatRange(0, 1000, min_open=True),
    default=1.0,
    show_default=True,
    help="Factor on the number of generated background events.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the demo's users, process ids, logs and generated data "
    "[default: /var/lib/socwb/demo as root, else ~/.cache/socwb/demo].",
)
@click.option(
    "--stop",
    is_flag=True,
    help="Stop the demo's processes, and the local node if this demo started it.",
)
@click.pass_context
def demo(
    context: click.Context, days: int, port: int, scale: float, state_dir: Path | None, stop: bool
) -> None:
    """Start the node, load real and generated logs, run detectors, start the workbench."""
    settings: Settings = context.obj
    state = DemoState(state_dir or default_state_directory())
    state.directory.mkdir(parents=True, exist_ok=True)
    if stop:
        _stop(state, settings)
        return

    if settings.search.urls == [LOCAL_NODE_URL]:
        status, started = LocalNode(settings.node).start()
        if started:
            state.node_marker.touch()
        click.echo(f"node: {'started' if started else 'reusing'} {status.url}")
    period = generated_period(state, days, datetime.now(UTC), click.echo, scale)
    manifest = load_manifest(period)
    backend = create_backend(settings.search)
    try:
        load_data(backend, settings, period, click.echo)
        open_alerts = run_detectors_once(backend, settings, manifest)
    finally:
        backend.close()
    click.echo(f"detectors: {open_alerts} open alerts in the queue")

    created = create_users(state.users_file)
    processes = start_processes(state, settings, port, manifest)
    url = f"http://127.0.0.1:{port}"
    is_up = wait_for_http(url + "/_stcore/health", timeout=60)
    _print_summary(url, is_up, created, processes, state)


def _print_summary(
    url: str, is_up: bool, created: dict[str, str], processes: dict[str, int], state: DemoState
) -> None:
    click.echo("")
    health = "up" if is_up else f"no response yet, see {state.log_file('workbench')}"
    click.echo(f"workbench: {url} ({health})")
    detectors = processes.get("detectors")
    click.echo(f"detector service: pid {detectors}, log {state.log_file('detectors')}")
    if created:
        click.echo("demo users (passwords are shown once; store them now):")
        for name, password in created.items():
            click.echo(f"  {name:16} {password}")
    else:
        click.echo(
            f"demo users exist already in {state.users_file}; add more with: "
            f"socwb users add NAME --role ROLE --users-file {state.users_file}"
        )
    stop_command = "socwb demo --stop"
    if state.directory != default_state_directory():
        stop_command += f" --state-dir {state.directory}"
    click.echo(f"stop everything with: {stop_command}")


def _stop(state: DemoState, settings: Settings) -> None:
    stopped = stop_processes(state)
    click.echo(f"stopped: {', '.join(stopped) or 'no demo process was running'}")
    # A node that was running before the demo started may serve other clients.
    if not state.node_marker.is_file():
        click.echo("node left running: this demo did not start it")
        return
    if settings.search.urls == [LOCAL_NODE_URL]:
        was_running = LocalNode(settings.node).stop()
        click.echo("node stopped" if was_running else "node was not running")
    state.node_marker.unlink()
