"""The `socwb selftest` command: prove that every rule still raises its alert."""

from __future__ import annotations

import logging

import click

from socwb.rules.catalog import builtin_rules
from socwb.search import create_backend
from socwb.selftest import Selftest, SelftestResult, selftest_namespace
from socwb.settings import Settings

logger = logging.getLogger(__name__)


def describe(result: SelftestResult) -> str:
    """Return the one-line summary of a rule's result."""
    verdict = "passed" if result.passed else "FAILED"
    alert = f" alert={result.alert_id[:12]}" if result.alert_id else ""
    return f"{result.rule_id}: {verdict} version={result.rule_version[:12]}{alert} {result.reason}"


@click.command("selftest")
@click.pass_context
def selftest(context: click.Context) -> None:
    """Write canary events for every rule, run one detector cycle and check each alert.

    Canaries go to the <namespace>_selftest namespace, never to real logs or the
    alert queue. Results are stored in socwb-selftest-<namespace>, and a failing rule
    raises a High detection_broken alert in the real namespace. Exit status is 0
    when every rule passed and 1 otherwise.
    """
    settings: Settings = context.obj
    backend = create_backend(settings.search)
    try:
        rules = builtin_rules(settings.detectors.privileged_users)
        results = Selftest(backend, settings, rules).run()
    finally:
        backend.close()
    for result in results:
        click.echo(describe(result))
    failed = sum(not result.passed for result in results)
    namespace = selftest_namespace(settings.search.namespace)
    click.echo(f"{len(results) - failed} passed, {failed} failed (canaries in {namespace})")
    if failed:
        context.exit(1)


__all__ = ["selftest"]
