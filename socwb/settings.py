"""The Settings tree: the only code that reads the process environment.

Variables use the prefix ``SOCWB_`` and ``__`` between a section and its field,
for example ``SOCWB_SEARCH__URLS``. A ``.env`` file in the working directory is
read too; real environment variables take precedence over it.
"""

from __future__ import annotations

import os
import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from socwb.errors import ConfigurationError

ENV_PREFIX = "SOCWB_"
NESTED_DELIMITER = "__"
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
LOCAL_NODE_URL = "http://127.0.0.1:9200"


def _split_commas(value: Any) -> Any:
    """Accept ``a,b`` as well as a list, so URLs can be set in one variable."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(value: Any) -> Any:
    """Accept ``45``, ``30s``, ``15m``, ``1h`` or ``2d`` besides ISO 8601 durations."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(
                seconds=float(match.group(1)) * _DURATION_SECONDS[match.group(2) or "s"]
            )
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchSettings(_Section):
    """Connection to OpenSearch or Elasticsearch."""

    urls: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [LOCAL_NODE_URL],
        description="Engine URLs, comma-separated; the local node's URL by default.",
    )
    username: str | None = Field(default=None, description="User for HTTP basic auth.")
    password: SecretStr | None = Field(default=None, description="Password for basic auth.")
    api_key: SecretStr | None = Field(
        default=None, description="API key (Elasticsearch encoded form); replaces basic auth."
    )
    ca_certs: Path | None = Field(default=None, description="CA bundle (PEM) for https URLs.")
    verify_certs: bool = Field(default=True, description="Verify TLS certificates on https.")
    request_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Timeout of one request, in seconds."
    )
    max_retries: int = Field(
        default=5, ge=0, le=20, description="Retries on connection errors and 429/502/503/504."
    )
    retry_backoff_initial: float = Field(
        default=0.5, gt=0, le=60, description="First retry delay, in seconds; doubles each time."
    )
    retry_backoff_max: float = Field(
        default=30.0, gt=0, le=600, description="Upper bound of one retry delay, in seconds."
    )
    namespace: str = Field(
        default="default",
        description="Suffix of every data stream, template and policy name this install owns.",
    )

    _split_urls = field_validator("urls", mode="before")(_split_commas)

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        if not urls:
            raise ValueError("at least one URL is required, for example http://127.0.0.1:9200")
        for url in urls:
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
            if "@" in urlsplit(url).netloc:
                # The URL appears in logs and messages, so it must carry no credentials.
                raise ValueError(
                    "a URL must not contain a user name or password; set "
                    "SOCWB_SEARCH__USERNAME and SOCWB_SEARCH__PASSWORD instead"
                )
        return [url.rstrip("/") for url in urls]

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, namespace: str) -> str:
        if not NAMESPACE_PATTERN.match(namespace):
            raise ValueError(
                "use 1 to 40 lower-case letters, digits or underscores, starting with a "
                "letter or digit (no hyphen: data stream names use it as a separator)"
            )
        return namespace

    @model_validator(mode="after")
    def _check_credentials(self) -> SearchSettings:
        if self.api_key is not None:
            return self
        if self.username is not None and self.password is None:
            raise ValueError(
                f"user {self.username!r} is set but no password: set SOCWB_SEARCH__PASSWORD, "
                "or unset SOCWB_SEARCH__USERNAME for an engine without authentication"
            )
        if self.password is not None and self.username is None:
            raise ValueError("a password is set but no user: set SOCWB_SEARCH__USERNAME as well")
        return self


class NodeSettings(_Section):
    """The local OpenSearch node that ``socwb node start`` assembles from Maven Central."""

    home: Path | None = Field(
        default=None,
        description="Node directory; ~/.cache/socwb/node, or /var/lib/socwb/node as root.",
    )
    version: str = Field(default="2.19.6", description="OpenSearch version to assemble.")
    heap: str = Field(default="1g", description="JVM heap, e.g. 512m or 2g (sets -Xms and -Xmx).")
    http_port: int = Field(default=9200, ge=1024, le=65535, description="HTTP port on 127.0.0.1.")
    transport_port: int = Field(
        default=9300, ge=1024, le=65535, description="Transport port on 127.0.0.1."
    )
    data_path: Path | None = Field(default=None, description="Data directory; <home>/data.")
    java_home: Path | None = Field(
        default=None, description="Java 17+ installation; JAVA_HOME or the java on PATH."
    )
    start_timeout: float = Field(
        default=180.0, gt=0, description="Seconds to wait for the node to become healthy."
    )
    plugin_zips: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra plugin zips to install, comma-separated (e.g. ISM from an archive).",
    )
    service_user: str = Field(
        default="socwb",
        description="Unprivileged user that runs the node when socwb runs as root.",
    )

    _split_zips = field_validator("plugin_zips", mode="before")(_split_commas)

    @field_validator("plugin_zips")
    @classmethod
    def _check_zips(cls, zips: list[Path]) -> list[Path]:
        for archive in zips:
            if not archive.is_file() or archive.suffix != ".zip":
                raise ValueError(f"{archive} is not a readable .zip file")
        return zips

    @field_validator("heap")
    @classmethod
    def _check_heap(cls, heap: str) -> str:
        if not re.match(r"^[1-9][0-9]*[mg]$", heap):
            raise ValueError("use a whole number with m or g, for example 512m or 2g")
        return heap


class OrganisationSettings(_Section):
    """Time zone, business hours and holidays of the monitored organisation."""

    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Berlin.")
    business_hours_start: time = Field(default=time(8, 0), description="Start of the workday.")
    business_hours_end: time = Field(default=time(18, 0), description="End of the workday.")
    business_days: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        description="Workdays as ISO weekday numbers minus one (0 = Monday), comma-separated.",
    )
    holidays: Annotated[list[date], NoDecode] = Field(
        default_factory=list, description="Public holidays as YYYY-MM-DD, comma-separated."
    )

    _split_lists = field_validator("business_days", "holidays", mode="before")(_split_commas)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("use an IANA time zone name such as Europe/Berlin or UTC") from exc
        return name

    @field_validator("business_days")
    @classmethod
    def _check_days(cls, days: list[int]) -> list[int]:
        if any(day < 0 or day > 6 for day in days):
            raise ValueError("use weekday numbers 0 (Monday) to 6 (Sunday)")
        return sorted(set(days))

    @model_validator(mode="after")
    def _check_hours(self) -> OrganisationSettings:
        if self.business_hours_end <= self.business_hours_start:
            raise ValueError("business_hours_end must be later than business_hours_start")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The organisation's time zone."""
        return ZoneInfo(self.timezone)


class DetectorSettings(_Section):
    """Detector runs: arrival windows, catch-up after downtime and rule inputs."""

    ingest_delay: timedelta = Field(
        default=timedelta(seconds=30),
        ge=timedelta(0),
        description="Gap between an arrival window's end and now, for refresh and clock skew.",
    )
    catch_up_chunk: timedelta = Field(
        default=timedelta(minutes=15),
        gt=timedelta(0),
        description="Maximum arrival window of one run while catching up after downtime.",
    )
    first_run_lookback: timedelta = Field(
        default=timedelta(hours=1),
        ge=timedelta(0),
        description="How far back in arrival time a rule's first run starts.",
    )
    future_tolerance: timedelta = Field(
        default=timedelta(minutes=5),
        ge=timedelta(0),
        description="Events dated later than now plus this are left out and counted.",
    )
    degraded_after: timedelta = Field(
        default=timedelta(minutes=5),
        gt=timedelta(0),
        description="No successful run for this long raises a monitoring-degraded alert.",
    )
    page_size: int = Field(
        default=1000, ge=1, le=10_000, description="Buckets per composite aggregation page."
    )
    targets_per_query: int = Field(
        default=100, ge=1, le=500, description="Entities evaluated by one event-time query."
    )
    privileged_users: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["root", "admin", "administrator", "Administrator"],
        description="Privileged account names watched outside business hours, comma-separated.",
    )
    baseline_window: timedelta = Field(
        default=timedelta(days=28),
        gt=timedelta(0),
        description="Trailing event-time window of a stored anomaly baseline.",
    )
    baseline_min_span: timedelta = Field(
        default=timedelta(days=7),
        ge=timedelta(0),
        description="Data span an entity needs in its baseline window before anomalies alert.",
    )
    baseline_refresh: timedelta = Field(
        default=timedelta(days=1),
        gt=timedelta(0),
        description="Age of a stored baseline's window end after which it is recomputed.",
    )

    selftest_interval: timedelta = Field(
        default=timedelta(hours=24),
        gt=timedelta(0),
        description="Time between two self-test runs of the detector service.",
    )

    _split_users = field_validator("privileged_users", mode="before")(_split_commas)
    _durations = field_validator(
        "ingest_delay",
        "catch_up_chunk",
        "first_run_lookback",
        "future_tolerance",
        "degraded_after",
        "baseline_window",
        "baseline_min_span",
        "baseline_refresh",
        mode="before",
    )(_parse_duration)
    _selftest_interval = field_validator("selftest_interval", mode="before")(_parse_duration)


class WorkbenchSettings(_Section):
    """The Streamlit workbench: local users and sessions."""

    users_file: Path = Field(
        default_factory=lambda: Path.home() / ".config" / "socwb" / "users.json",
        description="Local users file with argon2 password hashes and roles.",
    )
    session_timeout: timedelta = Field(
        default=timedelta(minutes=30),
        gt=timedelta(0),
        description="Idle time after which a workbench session ends.",
    )

    _durations = field_validator("session_timeout", mode="before")(_parse_duration)


class Settings(BaseSettings):
    """All settings of soc-workbench, built once by an entry point and passed down."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    search: SearchSettings = Field(default_factory=SearchSettings)
    node: NodeSettings = Field(default_factory=NodeSettings)
    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    detectors: DetectorSettings = Field(default_factory=DetectorSettings)
    workbench: WorkbenchSettings = Field(default_factory=WorkbenchSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of the log lines written to stderr."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, level: Any) -> Any:
        return level.upper() if isinstance(level, str) else level

    @model_validator(mode="after")
    def _java_home_from_environment(self) -> Settings:
        if self.node.java_home is None and os.environ.get("JAVA_HOME"):
            node = self.node.model_copy(update={"java_home": Path(os.environ["JAVA_HOME"])})
            object.__setattr__(self, "node", node)
        return self


def settings_reference() -> list[tuple[str, str, str]]:
    """List every setting as (environment variable, default, description), in declaration order."""
    rows = []
    for section_name, section in Settings.model_fields.items():
        annotation = section.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, field in annotation.model_fields.items():
                default = field.get_default(call_default_factory=True)
                rows.append(
                    (
                        variable_name((section_name, name)),
                        _display_default(default),
                        field.description or "",
                    )
                )
        else:
            rows.append(
                (
                    variable_name((section_name,)),
                    _display_default(section.default),
                    section.description or "",
                )
            )
    return rows


def _display_default(default: Any) -> str:
    if default is None or default == []:
        return "-"
    if isinstance(default, list):
        return ",".join(str(item) for item in default)
    if isinstance(default, time):
        return default.strftime("%H:%M")
    if isinstance(default, timedelta):
        return f"{int(default.total_seconds())}s"
    return str(default)


def variable_name(location: tuple[str | int, ...]) -> str:
    """Return the environment variable for a field location such as ('search', 'urls')."""
    parts = [str(part).upper() for part in location if not isinstance(part, int)]
    return ENV_PREFIX + NESTED_DELIMITER.join(parts)


def describe_validation_error(error: ValidationError) -> str:
    """Turn a pydantic error into lines that name each variable, its value and the fix."""
    lines = []
    for item in error.errors():
        name = variable_name(tuple(item["loc"]))
        value = item.get("input")
        is_secret = "PASSWORD" in name or "API_KEY" in name or name == "SOCWB_SEARCH__URLS"
        shown = "<hidden>" if is_secret else repr(value)
        reason = str(item["msg"]).removeprefix("Value error, ")
        if isinstance(value, dict):
            # A check across a whole section failed, and the section's values may contain secrets.
            lines.append(f"invalid settings {name}__*: {reason}")
            continue
        lines.append(f"invalid setting {name}={shown}: {reason}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment and ``.env``, with explicit overrides.

    Raises:
        ConfigurationError: a variable has an invalid value; the message names it.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None
