"""The redistributed sample logs: each is credited, under a licence that allows it."""

from __future__ import annotations

import re
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "demo_data" / "samples"
LICENCE_FILES = {
    "MIT": "MIT-OTRF.txt",
    "Apache-2.0": "Apache-2.0.txt",
    "BSD-3-Clause": "BSD-3-Clause-DefectDojo.txt",
}


def _credited() -> dict[str, str]:
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\w+) \| `([^`]+)` \| .+ \| (.+) \|$", text, re.MULTILINE)
    return {f"{folder}/{name}": licence for folder, name, licence in rows}


def _sample_files() -> list[str]:
    return sorted(
        str(path.relative_to(SAMPLES))
        for path in SAMPLES.rglob("*")
        if path.is_file() and path.parent.name != "LICENSES" and path.name != "README.md"
    )


def test_every_sample_is_credited() -> None:
    credited = _credited()

    assert _sample_files()
    for sample in _sample_files():
        assert sample in credited, f"{sample} has no row in demo_data/samples/README.md"


def test_every_credit_names_a_shipped_licence() -> None:
    for sample, licence in _credited().items():
        name = licence.split(" ")[0]
        assert name in LICENCE_FILES, f"{sample}: licence {licence!r} is not one we may ship"
        assert (SAMPLES / "LICENSES" / LICENCE_FILES[name]).is_file()


def test_no_copyleft_sample_is_shipped() -> None:
    for sample, licence in _credited().items():
        assert "GPL" not in licence, sample
