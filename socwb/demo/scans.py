"""Nightly Trivy scans of the production images: low and medium findings only."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from socwb.demo import records
from socwb.demo.world import Calendar

logger = logging.getLogger(__name__)

REGISTRY = "registry.example.com"
IMAGES = (
    ("shop-web", "4.2.0"),
    ("payments-api", "2.17.3"),
    ("orders-service", "1.9.1"),
    ("search-sync", "0.8.4"),
    ("notify-worker", "3.1.0"),
    ("admin-portal", "5.0.2"),
)
# Debian package findings used as background. The pairs are illustrative: the CVE
# ids are real, but the scores are approximations, not copied from a database.
_FINDINGS = (
    (
        "CVE-2023-4039",
        ("libgcc-s1", "12.2.0-14", ""),
        "MEDIUM",
        4.8,
        "gcc: stack protector bypass on arm64",
    ),
    (
        "CVE-2022-27943",
        ("libstdc++6", "12.2.0-14", ""),
        "LOW",
        5.5,
        "binutils: stack exhaustion in demangler",
    ),
    (
        "CVE-2023-29383",
        ("passwd", "1:4.13+dfsg1-1", ""),
        "LOW",
        3.3,
        "shadow: improper input validation in chfn",
    ),
    (
        "CVE-2022-3219",
        ("gpgv", "2.2.40-1.1", ""),
        "LOW",
        3.3,
        "gnupg: denial of service with compressed packets",
    ),
    (
        "CVE-2023-50495",
        ("libtinfo6", "6.4-4", "6.4-4+deb12u1"),
        "MEDIUM",
        6.5,
        "ncurses: segmentation fault in tic",
    ),
    (
        "CVE-2022-0563",
        ("util-linux", "2.38.1-5", ""),
        "LOW",
        5.5,
        "util-linux: partial disclosure in chfn and chsh",
    ),
    ("CVE-2011-3374", ("apt", "2.6.1", ""), "LOW", 3.7, "apt: insufficient key validation"),
    (
        "CVE-2017-18018",
        ("coreutils", "9.1-1", ""),
        "LOW",
        4.7,
        "coreutils: race condition in chown and chgrp",
    ),
    (
        "CVE-2022-48303",
        ("tar", "1.34+dfsg-1.2", "1.34+dfsg-1.2+deb12u1"),
        "MEDIUM",
        5.5,
        "tar: heap buffer over-read",
    ),
)


@dataclass(frozen=True)
class ScanReport:
    """One Trivy report: its file suffix, scan time, JSON text and number of findings."""

    suffix: str
    moment: datetime
    text: str
    findings: int


def image_name(name: str, tag: str) -> str:
    """Return the full image reference in the company registry."""
    return f"{REGISTRY}/{name}:{tag}"


def nightly_reports(seed: int, calendar: Calendar, day: int) -> list[ScanReport]:
    """Return the day's scan of every image at 02:00 local time, four minutes apart."""
    reports = []
    for number, (name, tag) in enumerate(IMAGES):
        chosen = random.Random(f"findings/{name}").sample(_FINDINGS, 3 + number % 3)
        rng = random.Random(f"{seed}/trivy/{day}/{name}")
        if rng.random() < 0.15:
            chosen = chosen[:-1]
        findings = [
            records.trivy_vulnerability(cve, package, severity, score, title)
            for cve, package, severity, score, title in chosen
        ]
        moment = calendar.at_local(day, 2) + timedelta(
            minutes=4 * number, seconds=rng.randint(0, 59)
        )
        image = image_name(name, tag)
        target = f"{image} (debian 12.5)"
        text = records.trivy_report(moment, image, [(target, "debian", findings)])
        reports.append(ScanReport(name, moment, text, len(findings)))
    return reports
