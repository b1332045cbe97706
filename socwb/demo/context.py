"""Inputs of an hour generator: the hour, its random source, the people at work and
the changes that planted scenarios make to the background."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from socwb.demo.world import Calendar, User, WorkDay

logger = logging.getLogger(__name__)

TimedLine = tuple[datetime, str]
"""One record and its time (UTC); a file is written in time order."""


@dataclass(frozen=True)
class Window:
    """A time range `[start, end)` in UTC that applies to one named thing."""

    name: str
    start: datetime
    end: datetime
    value: float = 0.0

    def contains(self, moment: datetime) -> bool:
        """Return whether `moment` lies inside the window."""
        return self.start <= moment < self.end


@dataclass
class Overrides:
    """Changes to the background that planted scenarios need.

    Attributes:
        absent: `(user index, day)` pairs on which a person has no background activity.
        silences: Windows named `<format>:<host>` in which that host writes nothing.
        cpu_levels: Windows named after a host, with the CPU use (0 to 1) to report.
        egress_factors: Windows named after a service, with the factor on its egress.
    """

    absent: set[tuple[int, int]] = field(default_factory=set)
    silences: list[Window] = field(default_factory=list)
    cpu_levels: list[Window] = field(default_factory=list)
    egress_factors: list[Window] = field(default_factory=list)

    def is_silenced(self, format_name: str, host: str, moment: datetime) -> bool:
        """Return whether `host` writes no `format_name` records at `moment`."""
        name = f"{format_name}:{host}"
        return any(window.name == name and window.contains(moment) for window in self.silences)

    def cpu_level(self, host: str, moment: datetime) -> float | None:
        """Return the planted CPU use of `host` at `moment`, or None for the background."""
        for window in self.cpu_levels:
            if window.name == host and window.contains(moment):
                return window.value
        return None

    def egress_factor(self, service: str, moment: datetime) -> float:
        """Return the planted factor on the egress of `service` at `moment` (1 if none)."""
        for window in self.egress_factors:
            if window.name == service and window.contains(moment):
                return window.value
        return 1.0


@dataclass(frozen=True)
class HourContext:
    """One UTC hour of one format: the inputs of a background generator."""

    start: datetime
    day: int
    rng: random.Random
    scale: float
    seed: int
    calendar: Calendar
    users: list[User]
    work: dict[int, WorkDay]
    overrides: Overrides

    @property
    def zone(self) -> tzinfo:
        """Return the organisation's time zone."""
        return self.calendar.zone

    @property
    def end(self) -> datetime:
        """Return the end of the hour (exclusive)."""
        return self.start + timedelta(hours=1)

    def at_work(self) -> Iterator[tuple[User, WorkDay, datetime, datetime]]:
        """Yield each person working in this hour with their day and the worked part."""
        for user in self.users:
            day = self.work.get(user.index)
            if day is None:
                continue
            part = day.overlap(self.start, self.end)
            if part is not None:
                yield user, day, part[0], part[1]

    def count(self, mean: float) -> int:
        """Return a random count with expectation `mean * scale`."""
        expected = mean * self.scale
        whole = int(expected)
        return whole + (1 if self.rng.random() < expected - whole else 0)

    def moment(self, low: datetime | None = None, high: datetime | None = None) -> datetime:
        """Return a random time in `[low, high)`, by default the whole hour, in whole ms."""
        low = low or self.start
        high = high or self.end
        offset = (high - low).total_seconds() * self.rng.random()
        return low + timedelta(milliseconds=int(offset * 1000))

    def day_rng(self, topic: str) -> random.Random:
        """Return a random source shared by every hour of the day, for day-level plans."""
        return random.Random(f"{self.seed}/{topic}/{self.day}")

    def local_hour(self, moment: datetime | None = None) -> float:
        """Return the local time of day in hours (0 to 24) of `moment`, or of the hour."""
        local = (moment or self.start).astimezone(self.zone)
        return local.hour + local.minute / 60

    def minute_steps(self, minutes: int) -> Iterator[datetime]:
        """Yield the start of every `minutes`-minute step in the hour."""
        for minute in range(0, 60, minutes):
            yield self.start + timedelta(minutes=minute)
