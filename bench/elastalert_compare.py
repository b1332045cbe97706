"""Compare ElastAlert 2 with `socwb detect run` on the same generated period.

The script generates a seeded period with `socwb.demo.generate` (or reuses one),
ingests it into a bench namespace, and runs each side as a child process over
the whole period:

- socwb: `socwb detect run --rule ... --from --to` over the arrival window of
  the ingest, then `socwb detect run --rule log_source_stopped --from --to`
  over the period's event times, because the silence rule reads its window as
  event time.
- ElastAlert 2: `elastalert --start --end` with the rule files of
  `bench/elastalert/`, installed with pip into its own virtual environment, with
  its writeback indices in the bench namespace.

Wall time comes from `time.perf_counter`; CPU time (user + sys) and peak
memory (max RSS) come from `os.wait4` of each child. Alerts of both sides are
matched with the planted scenarios by `socwb.demo.evaluation.evaluate`. socwb's
silence alerts are scored only for the application source, the scope of the
ElastAlert flatline rule, and the silence alerts of every source are counted
apart. The namespace is deleted at the end unless `--keep-namespace` is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elastalert_matches import elastalert_alerts  # noqa: E402
from ingest_bench import machine, remove_namespace  # noqa: E402

from socwb.alerts.model import Alert  # noqa: E402
from socwb.alerts.store import AlertStore  # noqa: E402
from socwb.demo import Manifest, generate, load_manifest  # noqa: E402
from socwb.demo.evaluation import Evaluation, evaluate  # noqa: E402
from socwb.demo.launcher import generated_inputs  # noqa: E402
from socwb.ingest.geo import create_geo_lookup  # noqa: E402
from socwb.ingest.pipeline import run_ingest  # noqa: E402
from socwb.provisioning import apply_assets  # noqa: E402
from socwb.rules.model import TimeWindow, iso  # noqa: E402
from socwb.search import SearchBackend, create_backend  # noqa: E402
from socwb.settings import SearchSettings  # noqa: E402

logger = logging.getLogger("elastalert_compare")

BENCH_DIRECTORY = Path(__file__).resolve().parent
RULE_TEMPLATES = BENCH_DIRECTORY / "elastalert"
NAMESPACE_TOKEN = "__NAMESPACE__"

# The socwb rules that have an ElastAlert 2 counterpart in bench/elastalert/.
# Each rule file's `name` is the socwb rule id, so the alerts of both sides can be compared.
COMPARED_RULES = (
    "auth_failure_spike",
    "new_login_location",
    "log_source_stopped",
    "data_export_above_baseline",
    "iam_policy_change",
    "firewall_rule_change",
    "new_admin_account",
    "vulnerability_critical",
    "malware_detected",
)
SILENCE_RULE = "log_source_stopped"
# The source whose hosts the flatline rule of bench/elastalert/ watches (its
# index is the application's data stream, logs-app.*).
FLATLINE_SOURCE = "app"


@dataclass
class Usage:
    """Resources of one or more child processes run one after the other."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    max_rss_mib: float = 0.0

    def add(self, other: Usage) -> None:
        """Add the times of `other` and keep the larger peak memory."""
        self.wall_seconds += other.wall_seconds
        self.cpu_seconds += other.cpu_seconds
        self.max_rss_mib = max(self.max_rss_mib, other.max_rss_mib)


@dataclass
class SideResult:
    """Resources and alert figures of one side."""

    side: str
    usage: Usage
    alerts: int
    scenarios: int
    found: int
    duplicates: int
    false_positives: int
    false_positives_by_rule: dict[str, int]
    missed: list[str]
    alerts_per_scenario: dict[str, int]
    silence_alerts_all_sources: dict[str, int]


def run_child(command: list[str], environment: dict[str, str], log_file: Path) -> Usage:
    """Run `command` to completion and return its wall time, CPU time and max RSS.

    Raises:
        SystemExit: The command exited with a non-zero status; its log is named.
    """
    logger.info("running %s", " ".join(command))
    started = time.perf_counter()
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment
        )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started

    if process.returncode != 0:
        raise SystemExit(f"{command[0]} exited with {process.returncode}; see {log_file}")
    # ru_maxrss is in KiB on Linux.
    return Usage(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def ensure_period(directory: Path, days: int, scale: float, start: datetime) -> Manifest:
    """Return the manifest of the period in `directory`, generating it first if missing."""
    if (directory / "manifest.json").is_file():
        manifest = load_manifest(directory)
        if manifest.days != days or manifest.scale != scale:
            raise SystemExit(
                f"{directory} contains another period ({manifest.days} days, scale "
                f"{manifest.scale}); use an empty --data folder or the same --days and --scale"
            )
        return manifest
    logger.info("generating %d days at scale %s into %s", days, scale, directory)
    return generate(directory, start=start, days=days, scale=scale)


def load_period(
    backend: SearchBackend, namespace: str, period: Path, manifest: Manifest
) -> TimeWindow:
    """Ingest the generated logs into `namespace` and return the arrival window they span."""
    apply_assets(backend, namespace)
    for folder, options in generated_inputs(manifest, period, namespace, create_geo_lookup()):
        summary = run_ingest(backend, [str(folder)], options)
        logger.info("ingested %s: %d events", folder.name, summary.totals.indexed)
    return arrival_window(backend, namespace)


def arrival_window(backend: SearchBackend, namespace: str) -> TimeWindow:
    """Return the window of `event.ingested` of the namespace's logs, one second wider."""
    pattern = f"logs-*-{namespace}"
    backend.refresh(pattern)
    body = {
        "size": 0,
        "aggs": {
            "first": {"min": {"field": "event.ingested"}},
            "last": {"max": {"field": "event.ingested"}},
        },
    }
    aggregations = backend.search(pattern, body)["aggregations"]
    first = datetime.fromtimestamp(aggregations["first"]["value"] / 1000, UTC)
    last = datetime.fromtimestamp(aggregations["last"]["value"] / 1000, UTC)
    return TimeWindow(first - timedelta(seconds=1), last + timedelta(seconds=1))


def socwb_environment(url: str, namespace: str, manifest: Manifest) -> dict[str, str]:
    """Return the environment of the socwb child: engine, namespace, organisation."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SOCWB_")
    }
    environment.update(
        {
            "SOCWB_SEARCH__URLS": url,
            "SOCWB_SEARCH__NAMESPACE": namespace,
            "SOCWB_ORGANISATION__TIMEZONE": manifest.timezone,
            "SOCWB_DETECTORS__PRIVILEGED_USERS": ",".join(manifest.privileged_users),
        }
    )
    return environment


def run_socwb(
    url: str,
    namespace: str,
    manifest: Manifest,
    arrival: TimeWindow,
    rule_ids: list[str],
    log_file: Path,
) -> Usage:
    """Run `socwb detect run` over the arrival window, then the silence rule over event time."""
    socwb = str(Path(sys.executable).with_name("socwb"))
    environment = socwb_environment(url, namespace, manifest)
    usage = Usage()

    arrival_rules = [rule_id for rule_id in rule_ids if rule_id != SILENCE_RULE]
    command = [socwb, "detect", "run", "--from", iso(arrival.start), "--to", iso(arrival.end)]
    for rule_id in arrival_rules:
        command += ["--rule", rule_id]
    usage.add(run_child(command, environment, log_file))

    if SILENCE_RULE in rule_ids:
        command = [socwb, "detect", "run", "--rule", SILENCE_RULE]
        command += ["--from", iso(manifest.start), "--to", iso(manifest.end)]
        usage.add(run_child(command, environment, log_file))
    return usage


def socwb_alerts(backend: SearchBackend, namespace: str) -> list[Alert]:
    """Return every alert in the namespace's alert index."""
    store = AlertStore(backend, namespace)
    store.refresh()
    return store.search(None)


def reset_socwb_state(backend: SearchBackend, namespace: str) -> None:
    """Delete the alert, checkpoint and run indices, so the next run starts empty."""
    for prefix in ("socwb-alerts", "socwb-checkpoints", "socwb-runs"):
        backend.request("DELETE", f"/{prefix}-{namespace}", params={"ignore_unavailable": "true"})


def ensure_elastalert(venv: Path) -> Path:
    """Create `venv` with elastalert2 unless it exists, and return its bin folder."""
    binaries = venv / "bin"
    if not (binaries / "elastalert").is_file():
        logger.info("installing elastalert2 into %s", venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        # NOTE: elastalert2 2.19.0 imports pytz without declaring it as a dependency.
        subprocess.run([str(binaries / "pip"), "install", "-q", "elastalert2", "pytz"], check=True)
    return binaries


def write_elastalert_config(workdir: Path, url: str, namespace: str) -> Path:
    """Write ElastAlert 2's config.yaml and rule files for `namespace`, and return the config."""
    host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
    rules_folder = workdir / "rules"
    shutil.rmtree(rules_folder, ignore_errors=True)
    rules_folder.mkdir(parents=True)
    for template in sorted(RULE_TEMPLATES.glob("*.yaml")):
        text = template.read_text(encoding="utf-8").replace(NAMESPACE_TOKEN, namespace)
        (rules_folder / template.name).write_text(text, encoding="utf-8")

    config = {
        "rules_folder": str(rules_folder),
        "es_host": host,
        "es_port": int(port or 9200),
        "writeback_index": writeback_index(namespace),
        # One query per rule covers at most buffer_time of event time.
        "run_every": {"minutes": 1},
        "buffer_time": {"hours": 1},
        "alert_time_limit": {"days": 2},
        "max_query_size": 10000,
        "disable_rules_on_error": False,
    }
    path = workdir / "config.yaml"
    # JSON is valid YAML, and ElastAlert reads the file with a YAML loader.
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def writeback_index(namespace: str) -> str:
    """Return ElastAlert's writeback index name, inside the bench namespace."""
    return f"elastalert-{namespace}"


def run_elastalert(
    binaries: Path, config: Path, manifest: Manifest, url: str, log_file: Path
) -> Usage:
    """Create ElastAlert's writeback indices (untimed), then run every rule over the period.

    `elastalert_replay.py` runs the rules, because `elastalert --start --end`
    with a past end exits before most rules have run.
    """
    environment = {name: value for name, value in os.environ.items()}
    subprocess.run(
        [str(binaries / "elastalert-create-index"), "--config", str(config)],
        check=True,
        stdout=log_file.open("ab"),
        stderr=subprocess.STDOUT,
        env=environment,
    )
    command = [
        str(binaries / "python"),
        str(BENCH_DIRECTORY / "elastalert_replay.py"),
        "--config",
        str(config),
        "--verbose",
        "--pin_rules",
        "--start",
        manifest.start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "--end",
        manifest.end.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    ]
    return run_child(command, environment, log_file)


def summarise(side: str, usage: Usage, alerts: list[Alert], manifest: Manifest) -> SideResult:
    """Match the in-scope `alerts` with the scenarios of the compared rules and count the outcome.

    Silence alerts of sources other than the flatline rule's are left out of
    every figure except `silence_alerts_all_sources`.
    """
    scored = [alert for alert in alerts if is_in_flatline_scope(alert)]
    evaluation: Evaluation = evaluate(scored, manifest)
    results = [r for r in evaluation.results if r.scenario.rule_id in COMPARED_RULES]
    return SideResult(
        side=side,
        usage=usage,
        alerts=len(scored),
        scenarios=len(results),
        found=sum(result.is_found for result in results),
        duplicates=sum(max(0, len(result.alert_ids) - 1) for result in results),
        false_positives=len(evaluation.false_positives),
        false_positives_by_rule=evaluation.false_positives_by_rule(),
        missed=[result.scenario.id for result in results if not result.is_found],
        alerts_per_scenario={result.scenario.id: len(result.alert_ids) for result in results},
        silence_alerts_all_sources=count_silence_alerts(alerts),
    )


def is_in_flatline_scope(alert: Alert) -> bool:
    """Return False for a silence alert that names a source the flatline rule does not read.

    socwb's silence alerts name their source. ElastAlert's flatline alerts name
    only the host, because its rule reads the application's data stream only.
    """
    if alert.rule_id != SILENCE_RULE:
        return True
    return _named_sources(alert) in ([], [FLATLINE_SOURCE])


def count_silence_alerts(alerts: list[Alert]) -> dict[str, int]:
    """Return the number of silence alerts per named source, with "" for alerts naming none."""
    counts: dict[str, int] = {}
    for alert in alerts:
        if alert.rule_id != SILENCE_RULE:
            continue
        key = ",".join(str(value) for value in _named_sources(alert))
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _named_sources(alert: Alert) -> list[str | None]:
    return [item.value for item in alert.entity if item.field == "source"]


def markdown_table(results: list[SideResult]) -> str:
    """Return the results as one Markdown table, silence alerts on the flatline rule's scope."""
    lines = [
        "| Side | Wall time (s) | CPU user+sys (s) | Max RSS (MiB) | Alerts | Scenarios found "
        "| Duplicates | False positives |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        usage = result.usage
        lines.append(
            f"| {result.side} | {usage.wall_seconds:.1f} | {usage.cpu_seconds:.1f} "
            f"| {usage.max_rss_mib:.0f} | {result.alerts} | {result.found} of {result.scenarios} "
            f"| {result.duplicates} | {result.false_positives} |"
        )
    return "\n".join(lines)


def parse_arguments() -> argparse.Namespace:
    """Parse the command line. Every option has a default."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:9200", help="engine URL (http only)")
    parser.add_argument("--namespace", default="benchea", help="namespace of the bench data")
    parser.add_argument(
        "--data", type=Path, default=Path("/tmp/socwb-elastalert/data"), help="period folder"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/socwb-elastalert/work"),
        help="folder for ElastAlert's config, rule files and the logs of both sides",
    )
    parser.add_argument("--days", type=int, default=30, help="days of the generated period")
    parser.add_argument("--scale", type=float, default=0.5, help="background factor")
    parser.add_argument("--start", default="2025-03-03", help="first day, YYYY-MM-DD")
    parser.add_argument(
        "--venv",
        type=Path,
        default=BENCH_DIRECTORY / ".venv-elastalert",
        help="virtual environment for elastalert2 (created when missing)",
    )
    parser.add_argument("--output", type=Path, help="write the results as JSON to this file")
    parser.add_argument(
        "--keep-namespace", action="store_true", help="leave the bench namespace in the engine"
    )
    parser.add_argument(
        "--reuse-namespace",
        action="store_true",
        help="use the logs a --keep-namespace run left in the namespace instead of ingesting",
    )
    return parser.parse_args()


def main() -> None:
    """Run both sides over the same period and print one table."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    arguments = parse_arguments()
    start = datetime.strptime(arguments.start, "%Y-%m-%d").replace(tzinfo=UTC)
    manifest = ensure_period(arguments.data, arguments.days, arguments.scale, start)
    binaries = ensure_elastalert(arguments.venv)
    arguments.workdir.mkdir(parents=True, exist_ok=True)

    namespace = arguments.namespace
    backend = create_backend(SearchSettings(urls=[arguments.url], namespace=namespace))
    results = []
    try:
        if arguments.reuse_namespace:
            arrival = arrival_window(backend, namespace)
            reset_socwb_state(backend, namespace)
            backend.request("DELETE", f"/{writeback_index(namespace)}*")
        else:
            remove_namespace(backend, namespace)
            arrival = load_period(backend, namespace, arguments.data, manifest)

        compared = list(COMPARED_RULES)
        usage = run_socwb(
            arguments.url, namespace, manifest, arrival, compared, arguments.workdir / "socwb.log"
        )
        results.append(
            summarise("socwb, 9 rules", usage, socwb_alerts(backend, namespace), manifest)
        )
        reset_socwb_state(backend, namespace)

        config = write_elastalert_config(arguments.workdir, arguments.url, namespace)
        log_file = arguments.workdir / "elastalert.log"
        usage = run_elastalert(binaries, config, manifest, arguments.url, log_file)
        alerts = elastalert_alerts(backend, writeback_index(namespace))
        results.append(summarise("ElastAlert 2, 9 rules", usage, alerts, manifest))
    finally:
        if not arguments.keep_namespace:
            remove_namespace(backend, namespace)
        backend.close()

    print(markdown_table(results))
    for result in results:
        print(f"{result.side}: missed {result.missed or 'none'}")
        print(f"{result.side}: false positives by rule {result.false_positives_by_rule}")
        print(f"{result.side}: alerts per scenario {result.alerts_per_scenario}")
        print(
            f"{result.side}: {SILENCE_RULE} alerts per source, of which the table scores "
            f"only {FLATLINE_SOURCE!r} ('' for alerts naming no source) "
            f"{result.silence_alerts_all_sources}"
        )
    if arguments.output:
        report = {"machine": machine(), "results": [asdict(result) for result in results]}
        arguments.output.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
