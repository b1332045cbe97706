"""A reporting period of whole days in the organisation's time zone, as audit commands take it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from socwb.reporting import ReportMonth

DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str, option: str) -> date:
    """Parse a calendar day written as YYYY-MM-DD.

    Raises:
        ValueError: The text is not a valid day in that form. The message names `option`.
    """
    value = text.strip()
    if DAY_PATTERN.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"invalid date {text!r} for {option}: use YYYY-MM-DD, for example 2026-11-01")


@dataclass(frozen=True)
class Period:
    """The days `first_day` to `last_day`, both included, in a time zone."""

    first_day: date
    last_day: date
    zone: ZoneInfo

    @classmethod
    def parse(cls, first: str, last: str, zone: ZoneInfo) -> Period:
        """Parse the `--from` and `--to` days of a command.

        Raises:
            ValueError: A day is invalid, or `last` lies before `first`.
        """
        first_day = parse_day(first, "--from")
        last_day = parse_day(last, "--to")
        if last_day < first_day:
            raise ValueError(
                f"--to {last_day.isoformat()} lies before --from {first_day.isoformat()}: "
                "give the last day of the period, which may equal the first"
            )
        return cls(first_day, last_day, zone)

    @property
    def start(self) -> datetime:
        """Midnight at the start of the first day (aware, in the period's zone)."""
        return self.day_start(self.first_day)

    @property
    def end(self) -> datetime:
        """Midnight after the last day (aware, in the period's zone), exclusive."""
        return self.day_start(self.last_day + timedelta(days=1))

    @property
    def label(self) -> str:
        """The period as `YYYY-MM-DD..YYYY-MM-DD`."""
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    def day_start(self, day: date) -> datetime:
        """Return midnight at the start of `day` in the period's zone."""
        return datetime(day.year, day.month, day.day, tzinfo=self.zone)

    def days(self) -> Iterator[date]:
        """Yield every day of the period in order."""
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += timedelta(days=1)

    def months(self) -> list[ReportMonth]:
        """Return every calendar month that contains a day of the period, in order."""
        months = []
        year, month = self.first_day.year, self.first_day.month
        while (year, month) <= (self.last_day.year, self.last_day.month):
            months.append(ReportMonth(year, month, self.zone))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months
