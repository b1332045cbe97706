"""Scheduling of detector runs: run each due rule, keep going when one fails, stop on SIGTERM.

This module only decides when rules run. Each run, its checkpoint and its run
record belong to `socwb.detection.Detector`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from socwb.detection import Detector
from socwb.leases import RuleLeases
from socwb.rules.catalog import builtin_rules
from socwb.rules.model import Rule
from socwb.search import SearchBackend
from socwb.selftest import Selftest
from socwb.settings import Settings

logger = logging.getLogger(__name__)

MAX_CATCH_UP_RUNS = 100
"""Catch-up runs of one rule per turn, so one rule that is far behind cannot starve the others."""


@dataclass(frozen=True)
class PeriodicTask:
    """Work the service runs besides the rules, such as notifications or retention.

    Attributes:
        name: Name in log lines.
        interval_s: Seconds between two runs.
        action: The work; any exception is logged and the task runs again later.
    """

    name: str
    interval_s: float
    action: Callable[[], object]


def selftest_task(backend: SearchBackend, settings: Settings) -> PeriodicTask:
    """Build the task that runs the alerting self-test every `detectors.selftest_interval`."""
    rules = builtin_rules(settings.detectors.privileged_users)

    def run() -> None:
        results = Selftest(backend, settings, rules).run()
        failed = [result.rule_id for result in results if not result.passed]
        if failed:
            logger.warning("self-test failed rules=%s", ",".join(failed))

    return PeriodicTask("selftest", settings.detectors.selftest_interval.total_seconds(), run)


class DetectorService:
    """Runs rules at their intervals until asked to stop.

    Args:
        detector: Performs one run of one rule.
        rules: The rules to schedule.
        monotonic: Clock for scheduling, in seconds; never used for windows.
        max_catch_up_runs: Runs of one rule per turn while it is catching up.
        leases: When given, a rule runs only while this instance holds its lease,
            so several instances can serve the same namespace without doing the
            same work twice.
    Attributes:
        overruns: Per rule id, the runs that ended after the rule's next due time.
    """

    def __init__(
        self,
        detector: Detector,
        rules: Sequence[Rule],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_catch_up_runs: int = MAX_CATCH_UP_RUNS,
        tasks: Sequence[PeriodicTask] = (),
        leases: RuleLeases | None = None,
    ) -> None:
        self.detector = detector
        self.rules = list(rules)
        self.tasks = list(tasks)
        self.task_due = {task.name: 0.0 for task in self.tasks}
        self.monotonic = monotonic
        self.max_catch_up_runs = max_catch_up_runs
        self.next_due = {rule.id: 0.0 for rule in self.rules}
        self.overruns = {rule.id: 0 for rule in self.rules}
        self.stop_event = threading.Event()
        self.leases = leases

    def run_due(self) -> int:
        """Run every rule whose time has come and whose lease is held; return how many ran."""
        ran = 0
        for rule in self.rules:
            if self.stop_event.is_set():
                break
            if self.monotonic() < self.next_due[rule.id]:
                continue
            self.next_due[rule.id] = self.monotonic() + rule.interval.total_seconds()
            if self.leases is not None and not self.leases.hold(rule.id, rule.interval):
                continue
            self.run_rule(rule)
            self._count_overrun(rule)
            ran += 1
        return ran

    def _count_overrun(self, rule: Rule) -> None:
        """Count a run that ended after its next due time.

        Runs are sequential, so the next run of the rule starts once this one ends.
        It covers the arrival time since this run's window, and no missed start
        is made up.
        """
        overdue_s = self.monotonic() - self.next_due[rule.id]
        if overdue_s <= 0:
            return
        self.overruns[rule.id] += 1
        logger.warning(
            "rule run outlasted its interval rule=%s overdue_s=%.1f overruns=%d; "
            "the next run starts now",
            rule.id,
            overdue_s,
            self.overruns[rule.id],
        )

    def run_rule(self, rule: Rule) -> bool:
        """Run one rule, repeating while it catches up; return False when a run failed.

        This is the one place that catches any exception, so a failing rule never
        stops the others. `Detector.run` has logged and recorded the failed run.
        """
        for _ in range(self.max_catch_up_runs):
            try:
                record = self.detector.run(rule)
            except Exception as exc:  # noqa: BLE001 - one failing rule must not stop the others
                # Detector.run logged the failure with its traceback and recorded it.
                logger.warning(
                    "rule run failed rule=%s error=%s; retrying at its next interval",
                    rule.id,
                    type(exc).__name__,
                )
                return False
            if not record.is_backfilled or self.stop_event.is_set():
                return True
        logger.warning(
            "rule still catching up rule=%s runs=%d; continuing next turn",
            rule.id,
            self.max_catch_up_runs,
        )
        return True

    def run_due_tasks(self) -> int:
        """Run every periodic task whose time has come; return how many ran."""
        ran = 0
        for task in self.tasks:
            if self.stop_event.is_set() or self.monotonic() < self.task_due[task.name]:
                continue
            self.task_due[task.name] = self.monotonic() + task.interval_s
            try:
                task.action()
            except Exception:  # noqa: BLE001 - one failing task must not stop the service
                logger.exception("task failed task=%s; retrying at its next interval", task.name)
            ran += 1
        return ran

    def seconds_until_due(self) -> float:
        """Return the wait until the next rule or task is due, at least 0."""
        due = [*self.next_due.values(), *self.task_due.values()]
        if not due:
            return 1.0
        return max(0.0, min(due) - self.monotonic())

    def serve(self) -> None:
        """Run due rules until `stop()` is called or SIGTERM arrives, finishing the current run."""
        logger.info("detector service started rules=%d", len(self.rules))
        try:
            self.detector.ensure_indices()
            if self.leases is not None:
                self.leases.ensure_index()
        except Exception:  # noqa: BLE001 - the engine may come up later; runs retry
            logger.exception("detector indices not created; the first runs will retry")
        while not self.stop_event.is_set():
            self.run_due()
            self.run_due_tasks()
            self.stop_event.wait(self.seconds_until_due())
        if self.leases is not None:
            self.leases.release_all()
        logger.info("detector service stopped")

    def stop(self) -> None:
        """Ask the loop to stop after the run in progress."""
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGTERM and SIGINT; call from the main thread."""

        def handle(signum: int, frame: FrameType | None) -> None:
            logger.info("signal received signal=%s; stopping", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
