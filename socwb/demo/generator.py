"""Generation of a seeded demo data set: background and planted scenarios, written as
raw vendor logs that `socwb ingest` reads, plus a manifest.

Output layout: `<source>/<format>/<YYYY-MM-DD>.<ndjson|log>` per local day, Trivy
reports as `vulnscan/trivy/<YYYY-MM-DD>-<image>.json`, metric documents under
`metrics/`, and `manifest.json`.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from socwb.demo import background_people as people
from socwb.demo import background_systems as systems
from socwb.demo import lookalikes
from socwb.demo.context import HourContext, Overrides, TimedLine
from socwb.demo.lookalikes import BENIGN_LOOKALIKES
from socwb.demo.manifest import FileEntry, Manifest, write_manifest
from socwb.demo.planting import ScenarioPlan
from socwb.demo.scans import nightly_reports
from socwb.demo.scenarios import plan_scenarios
from socwb.demo.world import Calendar, User, WorkDay, build_users, privileged_names
from socwb.demo.writers import DayFileWriter, FlushCallback, write_document

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1
MAX_SCALE = 1000.0
HourGenerator = Callable[[HourContext], Iterable[TimedLine]]


@dataclass(frozen=True)
class FileSpec:
    """One generated log stream: where its files go and which generators fill them."""

    source: str
    format_name: str
    extension: str
    generators: tuple[HourGenerator, ...]
    has_syslog_year: bool = False


FILE_SPECS: tuple[FileSpec, ...] = (
    FileSpec(
        "cloud", "aws_cloudtrail", "ndjson", (people.cloudtrail_hour, lookalikes.cloudtrail_hour)
    ),  # noqa: E501
    FileSpec("idp", "okta", "ndjson", (people.okta_hour,)),
    FileSpec("app", "app_json", "ndjson", (people.app_json_hour,)),
    FileSpec("network", "openssh", "log", (people.openssh_hour,), has_syslog_year=True),
    FileSpec("network", "openvpn", "log", (people.openvpn_hour,), has_syslog_year=True),
    FileSpec("network", "cisco_asa", "log", (systems.cisco_asa_hour,)),
    FileSpec("edr", "crowdstrike_fdr", "ndjson", (systems.crowdstrike_fdr_hour,)),
    FileSpec("edr", "crowdstrike_stream", "ndjson", ()),
    FileSpec("database", "postgresql_stderr", "log", (systems.postgresql_hour,)),
    FileSpec("cicd", "github_audit", "ndjson", (people.github_hour, lookalikes.github_hour)),
    FileSpec("waf", "aws_waf", "ndjson", (systems.aws_waf_hour,)),
    FileSpec("metrics", "host_metrics", "ndjson", (systems.host_metrics_hour,)),
    FileSpec("metrics", "service_metrics", "ndjson", (systems.service_metrics_hour,)),
)
"""Every line-oriented stream, in the order its files are written each day."""


@dataclass(frozen=True)
class _Run:
    """The fixed inputs of one generation run."""

    output_dir: Path
    seed: int
    scale: float
    calendar: Calendar
    users: list[User]
    plan: ScenarioPlan
    on_flush: FlushCallback | None


def generate(
    output_dir: Path,
    *,
    seed: int = 7,
    start: datetime,
    days: int = 30,
    scale: float = 1.0,
    timezone: str = "Europe/Berlin",
    users: int = 50,
    on_flush: FlushCallback | None = None,
) -> Manifest:
    """Write a demo data set to `output_dir` and return its manifest.

    The same arguments give byte-identical files. Records are generated and written
    one hour of one stream at a time, so memory use does not grow with `days` or
    with the size of the output.

    Args:
        output_dir: Directory to write to; created if missing. Existing files with
            the same names are overwritten, other files are left alone.
        seed: Seed of every random choice.
        start: First day; only its date is used. Days run from local midnight.
        days: Number of days. Scenarios need at least 21 (14 days of history and a
            week); a shorter period gets background only.
        scale: Factor on the number of background events (not on people, hosts or
            metric documents). At 1.0 each app host writes one record a minute.
        timezone: IANA zone of working hours and of log lines without an offset.
        users: Number of people in the organisation (at least 48).
        on_flush: Called after every hour written to a file, with its path and the
            records written so far.

    Raises:
        ValueError: An argument is out of range or `timezone` is unknown.
    """
    _check_arguments(days, scale)
    calendar = _calendar(start, days, timezone, seed)
    roster = build_users(users)
    run = _Run(
        output_dir, seed, scale, calendar, roster, plan_scenarios(seed, calendar, roster), on_flush
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    files: list[FileEntry] = []
    for day in range(days):
        files.extend(_write_day(run, day))
        logger.debug("generated day %d of %d", day + 1, days)
    manifest = _manifest(run, files)
    write_manifest(manifest, output_dir)
    logger.info(
        "generated %d events in %d files with %d scenarios in %s",
        manifest.total_events,
        len(files),
        len(manifest.scenarios),
        output_dir,
    )
    return manifest


def _check_arguments(days: int, scale: float) -> None:
    if days < 1:
        raise ValueError(f"invalid days {days}: expected 1 or more")
    if not math.isfinite(scale) or not 0 < scale <= MAX_SCALE:
        raise ValueError(f"invalid scale {scale}: expected a number above 0 and at most 1000")


def _calendar(start: datetime, days: int, timezone: str, seed: int) -> Calendar:
    try:
        return Calendar(start.date(), days, timezone, seed)
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {timezone!r}: expected an IANA name such as Europe/Berlin"
        ) from exc


def _work_days(run: _Run, day: int) -> dict[int, WorkDay]:
    absent = run.plan.overrides.absent
    work = {}
    for user in run.users:
        if (user.index, day) in absent:
            continue
        plan = run.calendar.work_day(user, day)
        if plan is not None:
            work[user.index] = plan
    return work


def _write_day(run: _Run, day: int) -> list[FileEntry]:
    work = _work_days(run, day)
    local_date = run.calendar.local_date(day)
    entries = []
    for spec in FILE_SPECS:
        relative = f"{spec.source}/{spec.format_name}/{local_date.isoformat()}.{spec.extension}"
        year = local_date.year if spec.has_syslog_year else None
        writer = DayFileWriter(
            run.output_dir, relative, (spec.source, spec.format_name), year, run.on_flush
        )
        for hour_start in _hours(run.calendar, day):
            context = _hour_context(run, spec, day, hour_start, work)
            writer.write_lines(_hour_lines(run.plan, spec, context))
        entry = writer.close()
        if entry is not None:
            entries.append(entry)
    entries.extend(_write_scans(run, day))
    return entries


def _hours(calendar: Calendar, day: int) -> Iterable[datetime]:
    moment = calendar.day_start(day)
    end = calendar.day_start(day + 1)
    while moment < end:
        yield moment
        moment += timedelta(hours=1)


def _hour_context(
    run: _Run, spec: FileSpec, day: int, hour_start: datetime, work: dict[int, WorkDay]
) -> HourContext:
    stamp = hour_start.strftime("%Y%m%d%H")
    return HourContext(
        start=hour_start,
        day=day,
        rng=random.Random(f"{run.seed}/{spec.format_name}/{stamp}"),
        scale=run.scale,
        seed=run.seed,
        calendar=run.calendar,
        users=run.users,
        work=work,
        overrides=run.plan.overrides if run.plan else Overrides(),
    )


def _hour_lines(plan: ScenarioPlan, spec: FileSpec, context: HourContext) -> list[str]:
    timed: list[TimedLine] = []
    for generator in spec.generators:
        timed.extend(line for line in generator(context) if context.start <= line[0] < context.end)
    timed.extend(plan.lines_between(spec.format_name, context.start, context.end))
    timed.sort(key=lambda line: line[0])
    return [text for _, text in timed]


def _write_scans(run: _Run, day: int) -> list[FileEntry]:
    where = ("vulnscan", "trivy")
    local_date = run.calendar.local_date(day).isoformat()
    reports = [
        (report.suffix, report.moment, report.text, report.findings)
        for report in nightly_reports(run.seed, run.calendar, day)
    ]
    start, end = run.calendar.day_start(day), run.calendar.day_start(day + 1)
    reports.extend(
        (document.suffix, document.moment, document.text, document.events)
        for document in run.plan.documents
        if start <= document.moment < end
    )
    return [
        write_document(
            run.output_dir, f"vulnscan/trivy/{local_date}-{suffix}.json", where, text, count
        )  # noqa: E501
        for suffix, _, text, count in sorted(reports, key=lambda report: report[1])
    ]


def _manifest(run: _Run, files: list[FileEntry]) -> Manifest:
    calendar = run.calendar
    return Manifest(
        generator_version=GENERATOR_VERSION,
        seed=run.seed,
        start=calendar.day_start(0).astimezone(UTC),
        end=calendar.day_start(calendar.days).astimezone(UTC),
        days=calendar.days,
        scale=run.scale,
        timezone=str(calendar.zone),
        syslog_year=calendar.local_date(0).year,
        users=len(run.users),
        privileged_users=privileged_names(run.users),
        files=files,
        scenarios=run.plan.entries,
        benign_lookalikes=list(BENIGN_LOOKALIKES),
    )
