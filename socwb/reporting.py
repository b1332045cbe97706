"""Monthly alert-handling figures for the CISO, and their CSV, JSON and HTML exports.

The figures are a pure function of the month's alerts and their history entries;
`fetch_month` reads both from the engine. Month boundaries are midnight on the
first day in the organisation's time zone (`SOCWB_ORGANISATION__TIMEZONE`), so a
report for Europe/Berlin starts at 23:00 UTC the evening before.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import re
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict

from socwb.alerts.history import AlertState, Disposition, HistoryEntry, HistoryStore, derive_state
from socwb.alerts.model import Alert, AlertStatus
from socwb.alerts.store import alerts_index
from socwb.auth import Permission, Principal, require
from socwb.rules.model import Severity, iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

CANARY_RULE_PREFIX = "selftest"
CANARY_FLAG = "is_canary"
NOISIEST_RULES = 5
PAGE_SIZE = 1_000
MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ReportMonth:
    """A calendar month in a time zone, e.g. 2026-11 in Europe/Berlin."""

    year: int
    month: int
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> ReportMonth:
        """Parse `YYYY-MM`.

        Raises:
            ValueError: The text is not a month in that form.
        """
        match = MONTH_PATTERN.match(text.strip())
        if match is None:
            raise ValueError(f"invalid month {text!r}: use YYYY-MM, for example 2026-11")
        return cls(int(match.group(1)), int(match.group(2)), zone)

    @property
    def label(self) -> str:
        """The month as `YYYY-MM`."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """First instant of the month (aware, in the month's zone)."""
        return datetime(self.year, self.month, 1, tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """First instant after the month (aware, in the month's zone)."""
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return datetime(year, month, 1, tzinfo=self.zone)


class TuningChange(BaseModel):
    """A suppression change of the month and its review state."""

    model_config = ConfigDict(frozen=True)

    suppression_id: str
    rule_ids: list[str]
    proposed_by: str
    proposed_at: datetime
    state: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    expires_at: datetime


class SeverityCompliance(BaseModel):
    """Whether a severity's alerts got their first response by their due time.

    Attributes:
        met: First response at or before `due_at`.
        breached: First response after `due_at`, or none yet and `due_at` has passed.
        pending: No response yet, but `due_at` is still ahead of the report time.
        rate: `met / (met + breached)`; None when both are 0.
    """

    severity: str
    total: int
    met: int
    breached: int
    pending: int
    rate: float | None


class MonthlyFigures(BaseModel):
    """The monthly figures; durations are in seconds, rates are fractions from 0 to 1."""

    month: str
    time_zone: str
    period_start: datetime
    period_end: datetime
    as_of: datetime
    total_alerts: int
    excluded_canary_alerts: int
    by_severity: dict[str, int]
    by_rule: dict[str, int]
    closed_alerts: int
    false_positive_alerts: int
    false_positive_rate: float | None
    acknowledged_alerts: int
    mean_time_to_acknowledge: float | None
    median_time_to_acknowledge: float | None
    mean_time_to_close: float | None
    due_compliance: list[SeverityCompliance]
    noisiest_rules: list[tuple[str, int]]
    tuning_changes: list[TuningChange]


def is_canary(alert: Alert) -> bool:
    """Return whether an alert comes from a self-test: `selftest*` rule or `is_canary` flag."""
    return alert.rule_id.startswith(CANARY_RULE_PREFIX) or alert.flags.get(CANARY_FLAG, False)


def compute_monthly_figures(
    month: ReportMonth,
    alerts: Sequence[Alert],
    histories: Mapping[str, Sequence[HistoryEntry]],
    *,
    as_of: datetime,
    tuning_changes: Sequence[TuningChange] = (),
) -> MonthlyFigures:
    """Compute the month's figures from its alerts and their history entries.

    An alert belongs to the month when its `created_at` lies in it and it was not
    suppressed. History entries after `as_of` are ignored, so a report for a past
    month can be reproduced. The
    time to acknowledge runs from `created_at` to the first response: the first entry
    that moved the alert out of `open` (an acknowledgement, or a close without one).
    The time to close runs to the last close of alerts closed at `as_of`.
    """
    # Suppressed alerts were never raised, so no figure counts them.
    in_month = [
        alert
        for alert in alerts
        if month.start <= alert.created_at < month.end and alert.status != AlertStatus.SUPPRESSED
    ]
    counted = [alert for alert in in_month if not is_canary(alert)]
    states = {
        alert.id: derive_state([e for e in histories.get(alert.id, ()) if e.at <= as_of])
        for alert in counted
    }
    closed = [alert for alert in counted if states[alert.id].status == AlertStatus.CLOSED]
    false_positives = [
        alert for alert in closed if states[alert.id].disposition == Disposition.FALSE_POSITIVE
    ]
    acknowledge_seconds = _durations(counted, states, "first_response_at")
    close_seconds = _durations(closed, states, "closed_at")
    by_rule = Counter(alert.rule_id for alert in counted)
    return MonthlyFigures(
        month=month.label,
        time_zone=str(month.zone.key),
        period_start=month.start,
        period_end=month.end,
        as_of=as_of,
        total_alerts=len(counted),
        excluded_canary_alerts=len(in_month) - len(counted),
        by_severity=_count_by_severity(counted),
        by_rule=dict(sorted(by_rule.items())),
        closed_alerts=len(closed),
        false_positive_alerts=len(false_positives),
        false_positive_rate=_ratio(len(false_positives), len(closed)),
        acknowledged_alerts=len(acknowledge_seconds),
        mean_time_to_acknowledge=statistics.fmean(acknowledge_seconds)
        if acknowledge_seconds
        else None,
        median_time_to_acknowledge=statistics.median(acknowledge_seconds)
        if acknowledge_seconds
        else None,
        mean_time_to_close=statistics.fmean(close_seconds) if close_seconds else None,
        due_compliance=_due_compliance(counted, states, as_of),
        noisiest_rules=sorted(by_rule.items(), key=lambda item: (-item[1], item[0]))[
            :NOISIEST_RULES
        ],
        tuning_changes=list(tuning_changes),
    )


def _durations(alerts: Sequence[Alert], states: Mapping[str, AlertState], name: str) -> list[float]:
    seconds = []
    for alert in alerts:
        moment: datetime | None = getattr(states[alert.id], name)
        if moment is not None:
            seconds.append((moment - alert.created_at).total_seconds())
    return seconds


def _count_by_severity(alerts: Sequence[Alert]) -> dict[str, int]:
    counts = Counter(alert.severity.value for alert in alerts)
    return {severity.value: counts.get(severity.value, 0) for severity in Severity}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def due_outcome(alert: Alert, first_response_at: datetime | None, as_of: datetime) -> str:
    """Return `met`, `breached` or `pending`: the alert's first response against its due time.

    A response at or before `due_at` is met. A later response, or none once `due_at`
    is at or before `as_of`, is breached. No response while `due_at` is ahead is pending.
    """
    if first_response_at is not None and first_response_at <= alert.due_at:
        return "met"
    if first_response_at is not None or alert.due_at <= as_of:
        return "breached"
    return "pending"


def _due_compliance(
    alerts: Sequence[Alert], states: Mapping[str, AlertState], as_of: datetime
) -> list[SeverityCompliance]:
    rows = []
    for severity in Severity:
        met = breached = pending = 0
        matching = [alert for alert in alerts if alert.severity == severity]
        for alert in matching:
            outcome = due_outcome(alert, states[alert.id].first_response_at, as_of)
            met += outcome == "met"
            breached += outcome == "breached"
            pending += outcome == "pending"
        rows.append(
            SeverityCompliance(
                severity=severity.value,
                total=len(matching),
                met=met,
                breached=breached,
                pending=pending,
                rate=_ratio(met, met + breached),
            )
        )
    return rows


# Reading the month from the engine ------------------------------------------------------


def fetch_month_alerts(backend: SearchBackend, namespace: str, month: ReportMonth) -> list[Alert]:
    """Return every alert created in the month, canaries included, paged with search_after."""
    return fetch_alerts_created(backend, namespace, month.start, month.end)


def fetch_alerts_created(
    backend: SearchBackend, namespace: str, start: datetime, end: datetime
) -> list[Alert]:
    """Return every alert created in `[start, end)`, canaries included, oldest first."""
    if backend.get_json(f"/{alerts_index(namespace)}") is None:
        return []
    query = {"range": {"created_at": {"gte": iso(start), "lt": iso(end)}}}
    return [Alert.model_validate(source) for source in _paged(backend, namespace, query)]


def _paged(backend: SearchBackend, namespace: str, query: dict[str, Any]) -> Iterator[Any]:
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": PAGE_SIZE,
            "query": query,
            "sort": [{"created_at": "asc"}, {"id": "asc"}],
        }
        if after is not None:
            body["search_after"] = after
        hits = backend.search(alerts_index(namespace), body)["hits"]["hits"]
        for hit in hits:
            yield hit["_source"]
        if len(hits) < PAGE_SIZE:
            return
        after = hits[-1]["sort"]


def monthly_figures(
    backend: SearchBackend,
    namespace: str,
    month: ReportMonth,
    *,
    as_of: datetime,
    tuning_changes: Sequence[TuningChange] = (),
) -> MonthlyFigures:
    """Read the month's alerts and their histories and compute the figures."""
    alerts = fetch_month_alerts(backend, namespace, month)
    histories = HistoryStore(backend, namespace).entries_for([alert.id for alert in alerts])
    figures = compute_monthly_figures(
        month, alerts, histories, as_of=as_of, tuning_changes=tuning_changes
    )
    logger.info(
        "monthly figures computed namespace=%s month=%s alerts=%d closed=%d",
        namespace,
        month.label,
        figures.total_alerts,
        figures.closed_alerts,
    )
    return figures


def monthly_figures_for(
    principal: Principal,
    backend: SearchBackend,
    namespace: str,
    month: ReportMonth,
    *,
    as_of: datetime,
    tuning_changes: Sequence[TuningChange] = (),
) -> MonthlyFigures:
    """Compute the figures for a signed-in user who may view reports.

    Raises:
        PermissionDenied: The principal may not view reports.
    """
    require(principal, Permission.VIEW_REPORTS)
    logger.info("monthly report viewed user=%s month=%s", principal.name, month.label)
    return monthly_figures(backend, namespace, month, as_of=as_of, tuning_changes=tuning_changes)


# Exports --------------------------------------------------------------------------------


def to_json(figures: MonthlyFigures) -> str:
    """Return the figures as indented JSON, times in ISO 8601."""
    return json.dumps(figures.model_dump(mode="json"), indent=2) + "\n"


def figure_rows(figures: MonthlyFigures) -> list[tuple[str, str, str, str]]:
    """Return the figures in long form: (section, key, metric, value), one row per number."""
    rows: list[tuple[str, str, str, str]] = [
        ("period", "", "month", figures.month),
        ("period", "", "time_zone", figures.time_zone),
        ("period", "", "start", figures.period_start.isoformat()),
        ("period", "", "end", figures.period_end.isoformat()),
        ("period", "", "as_of", figures.as_of.isoformat()),
    ]
    for metric in (
        "total_alerts",
        "excluded_canary_alerts",
        "closed_alerts",
        "false_positive_alerts",
        "false_positive_rate",
        "acknowledged_alerts",
        "mean_time_to_acknowledge",
        "median_time_to_acknowledge",
        "mean_time_to_close",
    ):
        rows.append(("summary", "", metric, _cell(getattr(figures, metric))))
    rows += [
        ("by_severity", key, "alerts", str(value)) for key, value in figures.by_severity.items()
    ]
    rows += [("by_rule", key, "alerts", str(value)) for key, value in figures.by_rule.items()]
    rows += [("noisiest_rules", key, "alerts", str(value)) for key, value in figures.noisiest_rules]
    for row in figures.due_compliance:
        for metric in ("total", "met", "breached", "pending", "rate"):
            rows.append(("due_compliance", row.severity, metric, _cell(getattr(row, metric))))
    for change in figures.tuning_changes:
        rows.append(("tuning_changes", change.suppression_id, "state", change.state))
    return rows


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def to_csv(figures: MonthlyFigures) -> str:
    """Return the figures as one CSV table in long form with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "key", "metric", "value"))
    writer.writerows(figure_rows(figures))
    return buffer.getvalue()


def build_charts(figures: MonthlyFigures) -> dict[str, go.Figure]:
    """Return the report's charts: alerts per severity, noisiest rules, due-time compliance."""
    severity = go.Figure(go.Bar(x=list(figures.by_severity), y=list(figures.by_severity.values())))
    severity.update_layout(title="Alerts per severity", yaxis_title="alerts")
    rules = go.Figure(
        go.Bar(
            x=[count for _, count in figures.noisiest_rules],
            y=[rule for rule, _ in figures.noisiest_rules],
            orientation="h",
        )
    )
    rules.update_layout(title="Noisiest rules", xaxis_title="alerts", yaxis_autorange="reversed")
    compliance = go.Figure(
        [
            go.Bar(name=name, x=[row.severity for row in figures.due_compliance], y=values)
            for name, values in (
                ("met", [row.met for row in figures.due_compliance]),
                ("breached", [row.breached for row in figures.due_compliance]),
                ("pending", [row.pending for row in figures.due_compliance]),
            )
        ]
    )
    compliance.update_layout(title="Response by due time", barmode="stack")
    return {"severity": severity, "rules": rules, "compliance": compliance}


def to_html(figures: MonthlyFigures) -> str:
    """Return one self-contained HTML page: tables plus charts with plotly.js inlined (~4.8 MB).

    The page loads nothing from the network, because plotly.js is embedded once.
    """
    charts = build_charts(figures)
    chart_html = [
        pio.to_html(chart, full_html=False, include_plotlyjs=(position == 0))
        for position, chart in enumerate(charts.values())
    ]
    table = "".join(
        f"<tr><td>{html.escape(section)}</td><td>{html.escape(key)}</td>"
        f"<td>{html.escape(metric)}</td><td>{html.escape(value)}</td></tr>"
        for section, key, metric, value in figure_rows(figures)
    )
    title = html.escape(f"Monthly alert report {figures.month} ({figures.time_zone})")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body><h1>{title}</h1>"
        f"{_summary_html(figures)}{''.join(chart_html)}"
        "<h2>All figures</h2><table border='1'><tr><th>section</th><th>key</th>"
        f"<th>metric</th><th>value</th></tr>{table}</table></body></html>\n"
    )


def _summary_html(figures: MonthlyFigures) -> str:
    lines = [
        ("Total alerts", str(figures.total_alerts)),
        ("False-positive rate", format_rate(figures.false_positive_rate)),
        ("Mean time to acknowledge", format_duration(figures.mean_time_to_acknowledge)),
        ("Median time to acknowledge", format_duration(figures.median_time_to_acknowledge)),
        ("Mean time to close", format_duration(figures.mean_time_to_close)),
    ]
    items = "".join(f"<li>{name}: <b>{html.escape(value)}</b></li>" for name, value in lines)
    return f"<ul>{items}</ul>"


def format_rate(rate: float | None) -> str:
    """Format a fraction as a percentage with one decimal, or `n/a`."""
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def format_duration(seconds: float | None) -> str:
    """Format seconds as `1h 02m 03s`, or `n/a`."""
    if seconds is None:
        return "n/a"
    whole = int(round(seconds))
    hours, rest = divmod(abs(whole), 3600)
    minutes, secs = divmod(rest, 60)
    sign = "-" if whole < 0 else ""
    return f"{sign}{hours}h {minutes:02d}m {secs:02d}s"


def export(figures: MonthlyFigures, output_format: str) -> str:
    """Render the figures as `html`, `csv` or `json`.

    Raises:
        ValueError: Unknown format.
    """
    renderers = {"html": to_html, "csv": to_csv, "json": to_json}
    if output_format not in renderers:
        raise ValueError(f"unknown report format {output_format!r}: use html, csv or json")
    return renderers[output_format](figures)
