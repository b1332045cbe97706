"""The manifest of a generated demo data set: parameters, files and planted scenarios."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
"""File name of the manifest inside the output directory."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioEntry(_Model):
    """One planted scenario: events that one rule must turn into one alert.

    `entity` is the value the alert groups on (a user name, host name, source IP,
    `<image>+<CVE>` or service name), exactly as the normalized events carry it.
    """

    id: str = Field(description="Unique scenario id, e.g. `auth_failure_spike-1`.")
    rule_id: str = Field(description="Id of the rule expected to fire.")
    severity: str = Field(description="Severity of the expected alert.")
    entity: str = Field(description="Group-by value of the expected alert.")
    start: datetime = Field(description="Time of the first planted event (UTC).")
    end: datetime = Field(description="Time of the last planted event (UTC).")
    source: str = Field(description="Source type of the file that contains the events.")
    format: str = Field(description="Format name of that file.")
    description: str = Field(description="What happens, in one or two sentences.")
    also_matches: list[str] = Field(
        default_factory=list,
        description="Other rules whose conditions the same events meet, with their entity.",
    )


class FileEntry(_Model):
    """One written file and the number of records in it."""

    path: str = Field(description="Path relative to the output directory, with `/`.")
    source: str = Field(description="Source type (`cloud`, `idp`, ...) or `metrics`.")
    format: str = Field(description="Format name for `socwb ingest --format`.")
    events: int = Field(description="Records in the file (lines, or findings for Trivy).")
    syslog_year: int | None = Field(
        default=None, description="Year of the RFC 3164 timestamps in this file."
    )


class BenignLookalike(_Model):
    """Background activity that resembles an attack but is deliberately not a scenario."""

    rule_id: str = Field(description="Rule that a careless threshold would fire on it.")
    description: str = Field(description="What the activity is and why it is benign.")


class Manifest(_Model):
    """Everything a test or a detector evaluation needs to know about one data set."""

    generator_version: int = Field(description="Layout version of the generated files.")
    seed: int
    start: datetime = Field(description="First instant of the period (UTC).")
    end: datetime = Field(description="End of the period, exclusive (UTC).")
    days: int
    scale: float
    timezone: str = Field(description="IANA zone of working hours and local log times.")
    syslog_year: int = Field(description="Year of the RFC 3164 timestamps on the first day.")
    users: int = Field(description="Number of people in the generated organisation.")
    privileged_users: list[str] = Field(
        description="Every user name of an administrator, in each form the sources use."
    )
    files: list[FileEntry]
    scenarios: list[ScenarioEntry]
    benign_lookalikes: list[BenignLookalike]

    @property
    def total_events(self) -> int:
        """Return the number of records over all files."""
        return sum(entry.events for entry in self.files)


def write_manifest(manifest: Manifest, output_dir: Path) -> Path:
    """Write `manifest` as indented JSON to `<output_dir>/manifest.json` and return the path."""
    path = output_dir / MANIFEST_NAME
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def load_manifest(path: Path) -> Manifest:
    """Read a manifest from `path`, a manifest file or the directory that contains one.

    Raises:
        FileNotFoundError: No manifest exists at `path`.
        pydantic.ValidationError: The file is not a valid manifest.
    """
    if path.is_dir():
        path = path / MANIFEST_NAME
    return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
