"""The generated organisation: people, hosts, services, address pools and work days."""

from __future__ import annotations

import hashlib
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

Role = Literal["admin", "engineer", "analyst", "staff"]

EMAIL_DOMAIN = "example.com"
AWS_ACCOUNT = "210987654321"
GITHUB_ORG = "example-corp"

# Public /16 networks that the geoip2fast data bundled with socwb maps wholly to one
# country (every /24 was checked). The unit tests check them again, because a newer
# geoip2fast data file may move a network.
COUNTRY_NETWORKS: dict[str, tuple[str, ...]] = {
    "DE": ("31.16", "79.192", "84.128"),
    "FR": ("77.128", "37.64"),
    "NL": ("31.136", "62.184"),
    "PL": ("83.0", "78.8"),
    "ES": ("77.208", "80.24"),
    "GB": ("2.24", "5.64"),
    "IT": ("5.88", "2.32"),
    "SE": ("78.64", "2.64"),
    "US": ("24.0", "73.0", "98.0"),
    "JP": ("27.80", "14.8"),
    "AU": ("49.176",),
    "BR": ("177.0",),
    "IN": ("27.48",),
    "RU": ("5.16", "46.0"),
    "CN": ("14.104",),
    "VN": ("14.160",),
    "KR": ("14.32",),
    "CA": ("24.64",),
}

COUNTRY_NAMES: dict[str, str] = {
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
    "PL": "Poland",
    "ES": "Spain",
    "GB": "United Kingdom",
    "IT": "Italy",
    "SE": "Sweden",
    "US": "United States",
    "JP": "Japan",
    "AU": "Australia",
    "BR": "Brazil",
    "IN": "India",
    "RU": "Russia",
    "CN": "China",
    "VN": "Vietnam",
    "KR": "South Korea",
    "CA": "Canada",
}

_FIRST_NAMES = (
    "maria",
    "jonas",
    "lena",
    "felix",
    "sophie",
    "lukas",
    "emma",
    "paul",
    "hannah",
    "leon",
    "mia",
    "noah",
    "clara",
    "elias",
    "lea",
    "ben",
    "anna",
    "finn",
    "julia",
    "david",
    "laura",
    "tim",
    "nina",
    "jan",
    "sara",
)
_LAST_NAMES = (
    "weber",
    "becker",
    "hoffmann",
    "wagner",
    "schulz",
    "koch",
    "richter",
    "klein",
    "wolf",
    "neumann",
    "braun",
    "zimmermann",
    "kruger",
    "hartmann",
    "lange",
    "schmitt",
    "werner",
    "krause",
    "meier",
    "lehmann",
)
# Home country by user index modulo 20; administrators (indexes 0-3) always live in DE.
_HOME_COUNTRIES = (
    "DE",
    "DE",
    "DE",
    "FR",
    "DE",
    "NL",
    "DE",
    "DE",
    "PL",
    "DE",
    "ES",
    "DE",
    "GB",
    "DE",
    "IT",
    "DE",
    "SE",
    "DE",
    "US",
    "DE",
)

ADMIN_COUNT = 4
ENGINEER_INDEXES = range(4, 16)
ANALYST_INDEXES = range(16, 24)
TRAVELLER_INDEX = 7
TRAVEL_COUNTRY = "JP"
TRAVEL_DAYS = range(5, 9)
"""Day indexes on which the traveller works from `TRAVEL_COUNTRY` (Tokyo office hours)."""

MIN_USERS = 48
"""Minimum number of users that gives every scenario its own people (password spraying needs 18)."""

VPN_POOL = "10.8.0"
APP_HOSTS = ("web-01", "web-02", "web-03", "web-04")
DB_HOSTS = ("db-01", "db-02")
WORKER_HOSTS = ("worker-01", "worker-02")
BASTION_HOST = "bastion-01"
VPN_HOST = "vpn-01"
FIREWALL_HOST = "asa-01"
SERVER_HOSTS = (*APP_HOSTS, *DB_HOSTS, *WORKER_HOSTS, BASTION_HOST)
SERVER_ADDRESSES = {name: f"10.0.1.{11 + number}" for number, name in enumerate(SERVER_HOSTS)}
EGRESS_SERVICES = ("report-export", "billing-api", "search-sync")
"""Managed services without hosts of their own; their egress is reported per service."""
APP_SERVICE_ACCOUNTS = ("svc-orders", "svc-billing", "svc-search", "svc-notify")


@dataclass(frozen=True)
class User:
    """One person of the organisation and the name each source records for them."""

    index: int
    first_name: str
    last_name: str
    role: Role
    country: str
    home_ip: str

    @property
    def email(self) -> str:
        """Return the IdP, application, AWS and VPN user name."""
        return f"{self.first_name}.{self.last_name}@{EMAIL_DOMAIN}"

    @property
    def login(self) -> str:
        """Return the Unix, PostgreSQL and firewall login."""
        return f"{self.first_name}.{self.last_name}"

    @property
    def github(self) -> str:
        """Return the GitHub handle."""
        return f"{self.first_name}-{self.last_name}"

    @property
    def display_name(self) -> str:
        """Return the full name as the IdP shows it."""
        return f"{self.first_name.title()} {self.last_name.title()}"

    @property
    def laptop(self) -> str:
        """Return the host name of the person's laptop."""
        return f"wks-{self.index:03d}"

    @property
    def is_admin(self) -> bool:
        """Return whether the person has administrator rights."""
        return self.role == "admin"

    @property
    def uses_aws(self) -> bool:
        """Return whether the person works in the AWS account."""
        return self.role in ("admin", "engineer")


@dataclass(frozen=True)
class WorkDay:
    """When and from where one person works on one day (times in UTC)."""

    start: datetime
    end: datetime
    ip: str
    country: str

    def overlap(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """Return the part of `[start, end)` inside the work day, or None."""
        low = max(start, self.start)
        high = min(end, self.end)
        return (low, high) if low < high else None


def stable_id(*parts: object, length: int = 16) -> str:
    """Return an upper-case hex id derived from `parts` (the same parts give the same id)."""
    text = "/".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length].upper()


def random_uuid(rng: random.Random) -> str:
    """Return a version 4 UUID drawn from `rng`."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def country_ip(country: str, rng: random.Random) -> str:
    """Return a random public address that geolocates to `country`."""
    network = rng.choice(COUNTRY_NETWORKS[country])
    return f"{network}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def travel_ip(user: User) -> str:
    """Return the address a person uses when working from `TRAVEL_COUNTRY`."""
    return country_ip(TRAVEL_COUNTRY, random.Random(f"travel-ip/{user.index}"))


def _role(index: int) -> Role:
    if index < ADMIN_COUNT:
        return "admin"
    if index in ENGINEER_INDEXES:
        return "engineer"
    if index in ANALYST_INDEXES:
        return "analyst"
    return "staff"


def build_users(count: int) -> list[User]:
    """Return the roster of `count` people; the same count always gives the same roster.

    Raises:
        ValueError: `count` is below `MIN_USERS`.
    """
    if count < MIN_USERS:
        raise ValueError(f"invalid user count {count}: expected at least {MIN_USERS}")
    users = []
    for index in range(count):
        first = _FIRST_NAMES[index % len(_FIRST_NAMES)]
        last = _LAST_NAMES[(index * 7 + index // len(_FIRST_NAMES)) % len(_LAST_NAMES)]
        country = "DE" if index < ADMIN_COUNT else _HOME_COUNTRIES[index % len(_HOME_COUNTRIES)]
        rng = random.Random(f"home-ip/{index}")
        users.append(User(index, first, last, _role(index), country, country_ip(country, rng)))
    return users


def privileged_names(users: list[User]) -> list[str]:
    """Return every user name of the administrators: e-mail, login and GitHub handle."""
    names: list[str] = []
    for user in users:
        if user.is_admin:
            names.extend((user.email, user.login, user.github))
    return names


def vpn_address(user: User) -> str:
    """Return the fixed VPN tunnel address of a person."""
    return f"{VPN_POOL}.{10 + user.index}"


class Calendar:
    """Local days of the period and the work day of each person on each of them."""

    def __init__(self, first_day: date, days: int, zone: str, seed: int) -> None:
        """Lay out `days` local days from `first_day` in time zone `zone`."""
        self.zone: tzinfo = ZoneInfo(zone)
        self.first_day = first_day
        self.days = days
        self.seed = seed

    def local_date(self, day: int) -> date:
        """Return the local date of day `day` (0-based)."""
        return self.first_day + timedelta(days=day)

    def day_start(self, day: int) -> datetime:
        """Return local midnight of day `day` as a UTC datetime."""
        midnight = datetime.combine(self.local_date(day), time(0), tzinfo=self.zone)
        return midnight.astimezone(ZoneInfo("UTC"))

    def at_local(self, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
        """Return a local wall-clock time on day `day` as a UTC datetime."""
        local = datetime.combine(self.local_date(day), time(hour, minute, second))
        return local.replace(tzinfo=self.zone).astimezone(ZoneInfo("UTC"))

    def is_weekday(self, day: int) -> bool:
        """Return whether day `day` is Monday to Friday."""
        return self.local_date(day).weekday() < 5

    def work_day(self, user: User, day: int) -> WorkDay | None:
        """Return when and where `user` works on day `day`, or None for a day off."""
        rng = random.Random(f"{self.seed}/workday/{user.index}/{day}")
        if user.index == TRAVELLER_INDEX and day in TRAVEL_DAYS and self.is_weekday(day):
            return self._travel_day(user, day, rng)
        if not self.is_weekday(day):
            return self._weekend_day(user, day, rng)
        if rng.random() < (0.04 if user.is_admin else 0.07):
            return None
        if user.is_admin:
            start = self.at_local(day, 8, 30) + timedelta(minutes=rng.randint(0, 45))
            end = self.at_local(day, 16, 45) + timedelta(minutes=rng.randint(0, 40))
        else:
            start = self.at_local(day, 7, 45) + timedelta(minutes=rng.randint(0, 90))
            end = start + timedelta(hours=8, minutes=rng.randint(0, 100))
        return WorkDay(start, end, user.home_ip, user.country)

    def _weekend_day(self, user: User, day: int, rng: random.Random) -> WorkDay | None:
        if user.is_admin or rng.random() >= 0.04:
            return None
        start = self.at_local(day, 10) + timedelta(minutes=rng.randint(0, 300))
        end = start + timedelta(minutes=rng.randint(40, 120))
        return WorkDay(start, end, user.home_ip, user.country)

    def _travel_day(self, user: User, day: int, rng: random.Random) -> WorkDay:
        tokyo = ZoneInfo("Asia/Tokyo")
        local = datetime.combine(self.local_date(day), time(9), tzinfo=tokyo)
        start = local.astimezone(ZoneInfo("UTC")) + timedelta(minutes=rng.randint(0, 30))
        end = start + timedelta(hours=8, minutes=rng.randint(0, 60))
        return WorkDay(start, end, travel_ip(user), TRAVEL_COUNTRY)
