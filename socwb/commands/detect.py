"""The `socwb detect` commands: run detection rules once, or serve them on a schedule."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from socwb.checkpoints import RunRecord
from socwb.detection import Detector
from socwb.errors import ConfigurationError, WorkbenchError
from socwb.leases import RuleLeases
from socwb.rules.catalog import builtin_rules, get_rule
from socwb.rules.model import Rule, TimeWindow, iso
from socwb.search import SearchBackend, create_backend
from socwb.settings import Settings

logger = logging.getLogger(__name__)

MAX_CATCH_UP_RUNS = 100


def _parse_utc(
    context: click.Context, param: click.Parameter, value: str | None
) -> datetime | None:
    """Parse an ISO 8601 time with a UTC offset, e.g. 2024-05-01T10:00:00Z."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2024-05-01T10:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset: add Z or an offset such as +02:00")
    return parsed.astimezone(UTC)


def _rules(rule_ids: tuple[str, ...], privileged_users: list[str]) -> list[Rule]:
    if rule_ids:
        return [get_rule(rule_id, privileged_users) for rule_id in rule_ids]
    return builtin_rules(privileged_users)


def _describe(record: RunRecord) -> str:
    window = "-"
    if record.arrival_start is not None and record.arrival_end is not None:
        window = f"{iso(record.arrival_start)}/{iso(record.arrival_end)}"
    return (
        f"{record.rule_id}: {record.outcome} window={window} hits={record.hits} "
        f"buckets={record.buckets} alerts={record.alerts_created} "
        f"updated={record.alerts_updated} late={record.late_events} "
        f"future={record.future_events}"
    )


def _arrival_window(start: datetime | None, end: datetime | None) -> TimeWindow | None:
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise click.UsageError("--from and --to go together: give both or neither")
    if end <= start:
        raise click.UsageError(f"--to {iso(end)} must be later than --from {iso(start)}")
    return TimeWindow(start, end)


@click.group("detect")
def detect() -> None:
    """Run detection rules against the log data streams."""


@detect.command("run")
@click.option(
    "--rule",
    "rule_ids",
    multiple=True,
    help="Rule id to run; repeat for several. Default: every built-in rule.",
)
@click.option(
    "--from",
    "start",
    callback=_parse_utc,
    help="Start of an arrival window (event.ingested) to evaluate again, ISO 8601 with offset.",
)
@click.option(
    "--to",
    "end",
    callback=_parse_utc,
    help="End of that arrival window, exclusive. With --from, checkpoints are not moved.",
)
@click.pass_context
def run(
    context: click.Context,
    rule_ids: tuple[str, ...],
    start: datetime | None,
    end: datetime | None,
) -> None:
    """Run each rule once from its checkpoint, or over the arrival window --from/--to.

    Exit status is 1 when any rule run failed; the other rules still run.
    """
    settings: Settings = context.obj
    window = _arrival_window(start, end)
    rules = _rules(rule_ids, settings.detectors.privileged_users)
    backend = create_backend(settings.search)
    failed = 0
    try:
        detector = _detector(backend, settings)
        detector.ensure_indices()
        for rule in rules:
            failed += not _run_one(detector, rule, window)
    finally:
        backend.close()
    if failed:
        context.exit(1)


def _run_one(detector: Detector, rule: Rule, window: TimeWindow | None) -> bool:
    try:
        if window is not None:
            click.echo(_describe(detector.run_range(rule, window)))
            return True
        # After downtime a run covers one catch-up chunk; repeat until it is current.
        for _ in range(MAX_CATCH_UP_RUNS):
            record = detector.run(rule)
            click.echo(_describe(record))
            if not record.is_backfilled:
                break
    except WorkbenchError as exc:
        click.echo(f"{rule.id}: failed: {type(exc).__name__}: {exc}", err=True)
        return False
    return True


@detect.command("serve")
@click.option(
    "--notify-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON file of notification channels; new alerts are sent each cycle when given.",
)
@click.pass_context
def serve(context: click.Context, notify_config: Path | None) -> None:
    """Run every built-in rule at its interval until SIGTERM or Ctrl-C.

    Besides the rules, the service runs the retention fallback every 5 minutes
    on clusters without ISM, the notification dispatcher when configured, and
    the alerting self-test every SOCWB_DETECTORS__SELFTEST_INTERVAL.
    """
    try:
        from detectors.service import DetectorService, PeriodicTask, selftest_task
    except ImportError as exc:
        raise ConfigurationError(
            "the detectors package is not importable: run 'socwb detect serve' from the "
            "repository root, or install the repository with the detectors package"
        ) from exc
    settings: Settings = context.obj
    backend = create_backend(settings.search)
    try:
        detector = _detector(backend, settings)
        tasks = _service_tasks(backend, settings, notify_config, PeriodicTask)
        tasks.append(selftest_task(backend, settings))
        rules = builtin_rules(settings.detectors.privileged_users)
        leases = RuleLeases(backend, settings.search.namespace, clock=detector.clock)
        service = DetectorService(detector, rules, tasks=tasks, leases=leases)
        service.install_signal_handlers()
        service.serve()
    finally:
        backend.close()


def _service_tasks(
    backend: SearchBackend,
    settings: Settings,
    notify_config: Path | None,
    task_type: Any,
) -> list[Any]:
    from socwb.lifecycle_fallback import run_lifecycle
    from socwb.search.opensearch import OpenSearchBackend

    namespace = settings.search.namespace
    tasks = []
    if isinstance(backend, OpenSearchBackend) and not backend.has_ism():
        tasks.append(task_type("retention", 300.0, lambda: run_lifecycle(backend, namespace)))
    if notify_config is not None:
        from socwb.commands.notify import load_notification_settings
        from socwb.notify.dispatcher import Dispatcher

        dispatcher = Dispatcher(backend, namespace, load_notification_settings(notify_config))
        tasks.append(task_type("notifications", 30.0, dispatcher.run_cycle))
    return tasks


def _detector(backend: SearchBackend, settings: Settings) -> Detector:
    return Detector(
        backend,
        settings.search.namespace,
        clock=lambda: datetime.now(UTC),
        settings=settings.detectors,
        organisation=settings.organisation,
    )


__all__ = ["detect"]
