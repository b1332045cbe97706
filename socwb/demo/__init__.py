"""Seeded demo data: realistic multi-source vendor logs with planted attack scenarios."""

from socwb.demo.generator import FILE_SPECS, generate
from socwb.demo.manifest import (
    BenignLookalike,
    FileEntry,
    Manifest,
    ScenarioEntry,
    load_manifest,
)
from socwb.demo.planting import MIN_SCENARIO_DAYS, RULE_SEVERITIES

__all__ = [
    "FILE_SPECS",
    "MIN_SCENARIO_DAYS",
    "RULE_SEVERITIES",
    "BenignLookalike",
    "FileEntry",
    "Manifest",
    "ScenarioEntry",
    "generate",
    "load_manifest",
]
