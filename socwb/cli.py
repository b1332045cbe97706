"""The ``socwb`` command: thin commands over the core modules.

Exit status: 0 on success, 1 when the operation failed, 2 on usage or
configuration errors. Errors go to stderr as ``ErrorName: message``.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
import time
from typing import Any

import click

from socwb.errors import ConfigurationError, WorkbenchError
from socwb.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    """Send log lines to stderr at ``level``; only entry points call this."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The clients log every non-2xx response, including expected 404s; the
    # search layer logs the failures that matter.
    for noisy in ("opensearch", "elastic_transport", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _settings(context: click.Context) -> Settings:
    settings: Settings = context.obj
    return settings


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "terminal_width": 110})
@click.version_option(package_name="soc-workbench")
@click.pass_context
def cli(context: click.Context) -> None:
    """soc-workbench: security monitoring to a SOC 2 policy on OpenSearch or Elasticsearch.

    Settings come from SOCWB_* environment variables and a .env file; see the
    README's configuration table.
    """
    settings = load_settings()
    configure_logging(settings.log_level)
    context.obj = settings


@cli.group()
def node() -> None:
    """Run a local single-node OpenSearch assembled from Maven Central."""


@node.command("start")
@click.pass_context
def node_start(context: click.Context) -> None:
    """Start the local node, or reuse it when it is already running."""
    from socwb.node import LocalNode

    local = LocalNode(_settings(context).node)
    started_at = time.monotonic()
    status, started = local.start()
    verb = "started" if started else "already running"
    click.echo(f"node {verb} in {time.monotonic() - started_at:.1f}s at {status.url}")
    _print_status(status.as_dict())


@node.command("status")
@click.pass_context
def node_status(context: click.Context) -> None:
    """Print the node's URL, version, health and plugins; exit 1 when it is not running."""
    from socwb.node import LocalNode

    status = LocalNode(_settings(context).node).status()
    _print_status(status.as_dict())
    if not status.is_running:
        context.exit(1)


@node.command("stop")
@click.pass_context
def node_stop(context: click.Context) -> None:
    """Stop the local node cleanly."""
    from socwb.node import LocalNode

    stopped = LocalNode(_settings(context).node).stop()
    click.echo("node stopped" if stopped else "node was not running")


def _print_status(status: dict[str, Any]) -> None:
    click.echo(f"running:  {'yes' if status['running'] else 'no'}")
    click.echo(f"url:      {status['url']}")
    click.echo(f"pid:      {status['pid'] or '-'}")
    click.echo(f"version:  {status['version'] or '-'}")
    click.echo(f"health:   {status['health'] or '-'}")
    click.echo(f"plugins:  {', '.join(status['plugins']) or '-'}")
    click.echo(f"ism:      {'loaded' if status['ism'] else 'not loaded'}")
    for coordinate in status["missing_artifacts"]:
        click.echo(f"missing:  {coordinate} (not on Maven Central)")
    click.echo(f"home:     {status['home']}")


@cli.command("info")
@click.pass_context
def info(context: click.Context) -> None:
    """Detect the configured engine and print its kind, version and health."""
    from socwb.search import create_backend

    backend = create_backend(_settings(context).search)
    try:
        health = backend.cluster_health()
        _echo_json(
            {
                "engine": backend.info.distribution,
                "version": backend.info.version,
                "cluster": backend.info.cluster_name,
                "lifecycle_api": backend.info.lifecycle_api,
                "health": health.get("status"),
            }
        )
    finally:
        backend.close()


@cli.command("apply")
@click.option("--dry-run", is_flag=True, help="Print the differences; change nothing.")
@click.pass_context
def apply(context: click.Context, dry_run: bool) -> None:
    """Install index templates, pipelines and retention policies; never deletes an index."""
    from socwb.provisioning import apply_assets
    from socwb.search import create_backend

    settings = _settings(context)
    backend = create_backend(settings.search)
    try:
        report = apply_assets(backend, settings.search.namespace, dry_run=dry_run, actor=_os_user())
    finally:
        backend.close()
    verb = {"create": "would create", "update": "would update"} if dry_run else {}
    for change in report.changes:
        click.echo(f"{verb.get(change.action, change.action):13} {change.kind:18} {change.name}")
        for difference in change.differences:
            click.echo(f"{'':13} drift: {difference}")
    for index, policy in report.attached:
        click.echo(f"{'would attach' if dry_run else 'attached':13} {policy} -> {index}")
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(
        f"{report.count('create')} to create, {report.count('update')} to update, "
        f"{report.count('unchanged')} unchanged"
        if dry_run
        else f"{report.count('create')} created, {report.count('update')} updated, "
        f"{report.count('unchanged')} unchanged"
    )


def _os_user() -> str:
    """Return the operating-system user running the command, for the apply log lines."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No login name and no passwd entry, e.g. an arbitrary uid in a container.
        return f"uid={os.getuid()}"


@cli.group()
def lifecycle() -> None:
    """Run retention policies where the cluster has no ISM plugin."""


@lifecycle.command("run")
@click.pass_context
def lifecycle_run(context: click.Context) -> None:
    """Roll over, make read-only and delete indices as their stored policies require."""
    from socwb.lifecycle_fallback import run_lifecycle
    from socwb.search import create_backend

    settings = _settings(context)
    backend = create_backend(settings.search)
    try:
        report = run_lifecycle(backend, settings.search.namespace)
    finally:
        backend.close()
    click.echo(
        f"rolled over {len(report.rolled_over)}, made read-only {len(report.made_read_only)}, "
        f"deleted {len(report.deleted)}, failed {len(report.failures)}"
    )
    for index, error in report.failures:
        click.echo(f"failed: {index}: {error}", err=True)
    if report.failures:
        context.exit(1)


@lifecycle.command("status")
@click.pass_context
def lifecycle_status(context: click.Context) -> None:
    """Print the lifecycle state of every managed backing index as JSON."""
    from socwb.lifecycle_fallback import index_states
    from socwb.search import create_backend

    settings = _settings(context)
    backend = create_backend(settings.search)
    try:
        _echo_json(index_states(backend, settings.search.namespace))
    finally:
        backend.close()


@cli.command("coverage")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    help="Readable table, or JSON for audit evidence.",
)
@click.option(
    "--max-skew",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Clock skew bound per host, in seconds.",
)
@click.pass_context
def coverage(context: click.Context, output_format: str, max_skew: float) -> None:
    """Report per source: delivery, required log types, retention, read-only state, clock skew."""
    from datetime import timedelta

    from socwb.catalogue import load_catalogue
    from socwb.coverage import as_json, coverage_report
    from socwb.search import create_backend

    settings = _settings(context)
    backend = create_backend(settings.search)
    try:
        report = coverage_report(
            backend,
            load_catalogue(),
            settings.search.namespace,
            max_skew=timedelta(seconds=max_skew),
        )
    finally:
        backend.close()
    if output_format == "json":
        _echo_json(as_json(report))
    else:
        _print_coverage(report)
    if any(item.findings for item in report):
        context.exit(1)


def _print_coverage(report: list[Any]) -> None:
    click.echo(f"{'source':10} {'last event':22} {'24h':>8} {'streams':>7} {'types':>7}  findings")
    for item in report:
        types = (
            f"{len(item.log_types_seen)}/{len(item.log_types_seen) + len(item.log_types_missing)}"
        )
        click.echo(
            f"{item.source:10} {(item.last_event or '-')[:19]:22} {item.events_24h:>8} "
            f"{len(item.data_streams):>7} {types:>7}  {len(item.findings)}"
        )
        for finding in item.findings:
            click.echo(f"{'':10} - {finding}")


@cli.command("config")
@click.option("--markdown", is_flag=True, help="Print every setting as the README's table.")
@click.pass_context
def show_config(context: click.Context, markdown: bool) -> None:
    """Print the effective settings as JSON, with secrets masked."""
    if not markdown:
        _echo_json(_settings(context).model_dump(mode="json"))
        return
    from socwb.settings import settings_reference

    click.echo("| Variable | Default | Meaning |")
    click.echo("|---|---|---|")
    for variable, default, description in settings_reference():
        click.echo(f"| `{variable}` | `{default}` | {description} |")


def _register_commands() -> None:
    from socwb.commands.demo import demo
    from socwb.commands.detect import detect
    from socwb.commands.evidence import evidence
    from socwb.commands.generate import generate
    from socwb.commands.health import health
    from socwb.commands.ingest import ingest
    from socwb.commands.ledger import ledger
    from socwb.commands.notify import notify
    from socwb.commands.report import report
    from socwb.commands.selftest import selftest
    from socwb.commands.snapshot import snapshot
    from socwb.commands.users import users
    from socwb.commands.verify import verify

    cli.add_command(demo)
    cli.add_command(detect)
    cli.add_command(generate)
    cli.add_command(ingest)
    cli.add_command(notify)
    cli.add_command(report)
    cli.add_command(users)
    cli.add_command(verify)
    cli.add_command(snapshot)
    cli.add_command(selftest)
    cli.add_command(ledger)
    cli.add_command(evidence)
    cli.add_command(health)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Run the command line and map errors to exit codes."""
    try:
        # Without standalone mode, click returns the code given to ctx.exit().
        code = cli.main(args=argv, prog_name="socwb", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except ConfigurationError as exc:
        click.echo(f"{type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    except WorkbenchError as exc:
        logger.debug("command failed", exc_info=True)
        click.echo(f"{type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
