"""Generation: determinism, layout, manifest, arguments and streaming writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from socwb.demo import generate, load_manifest
from socwb.ingest.registry import format_names

from .conftest import SMALL, START, NormalizedRun


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_identical_bytes(tmp_path):
    first = tmp_path / "first"
    second = tmp_path / "second"

    generate(first, seed=11, start=START, days=21, scale=0.05)
    generate(second, seed=11, start=START, days=21, scale=0.05)

    first_tree = _tree(first)
    assert first_tree == _tree(second)
    assert len(first_tree) > 100


def test_different_seed_changes_output(tmp_path):
    generate(tmp_path / "a", seed=1, start=START, days=2, scale=0.1)
    generate(tmp_path / "b", seed=2, start=START, days=2, scale=0.1)

    first = _tree(tmp_path / "a")
    second = _tree(tmp_path / "b")
    changed = [name for name in first if first[name] != second.get(name)]
    assert len(changed) > len(first) // 2


def test_manifest_round_trip(small_run: NormalizedRun):
    loaded = load_manifest(small_run.root / "manifest.json")

    assert loaded == small_run.manifest
    assert load_manifest(small_run.root) == small_run.manifest


def test_manifest_records_parameters(small_run: NormalizedRun):
    manifest = small_run.manifest

    assert manifest.seed == 7
    assert manifest.days == SMALL["days"]
    assert manifest.scale == SMALL["scale"]
    assert manifest.timezone == "Europe/Berlin"
    assert manifest.syslog_year == 2025
    assert manifest.start.isoformat() == "2025-03-02T23:00:00+00:00"
    assert "maria.weber@example.com" in manifest.privileged_users
    assert len(manifest.benign_lookalikes) >= 8


def test_manifest_counts_match_files(small_run: NormalizedRun):
    for entry in small_run.manifest.files:
        text = (small_run.root / entry.path).read_text(encoding="utf-8")
        if entry.format == "trivy":
            report = json.loads(text)
            count = sum(len(result["Vulnerabilities"]) for result in report["Results"])
        else:
            count = len(text.splitlines())
        assert count == entry.events, entry.path
        assert entry.events > 0, entry.path


def test_layout_uses_source_format_day(small_run: NormalizedRun):
    known = set(format_names())
    pattern = re.compile(r"^[a-z]+/[a-z0-9_]+/2025-\d{2}-\d{2}(-[a-z0-9-]+)?\.(ndjson|log|json)$")

    for entry in small_run.manifest.files:
        assert pattern.match(entry.path), entry.path
        assert entry.path.startswith(f"{entry.source}/{entry.format}/")
        if entry.source != "metrics":
            assert entry.format in known


def test_every_required_format_is_written(small_run: NormalizedRun):
    written = {entry.format for entry in small_run.manifest.files}

    assert written >= {
        "aws_cloudtrail",
        "okta",
        "openssh",
        "app_json",
        "openvpn",
        "cisco_asa",
        "crowdstrike_fdr",
        "crowdstrike_stream",
        "trivy",
        "postgresql_stderr",
        "github_audit",
        "aws_waf",
        "host_metrics",
        "service_metrics",
    }


def test_syslog_files_carry_their_year(small_run: NormalizedRun):
    for entry in small_run.manifest.files:
        if entry.format in ("openssh", "openvpn"):
            assert entry.syslog_year == 2025
        else:
            assert entry.syslog_year is None


def test_short_period_has_no_scenarios(tmp_path, caplog):
    manifest = generate(tmp_path, start=START, days=3, scale=0.05)

    assert manifest.scenarios == []
    assert manifest.total_events > 0
    assert "no scenarios planted" in caplog.text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"days": 0}, "invalid days"),
        ({"scale": 0.0}, "invalid scale"),
        ({"scale": float("inf")}, "invalid scale"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"users": 10}, "invalid user count"),
    ],
    ids=["zero-days", "zero-scale", "infinite-scale", "bad-zone", "few-users"],
)
def test_invalid_arguments_raise(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, start=START, **{"days": 2, **arguments})


def test_files_are_flushed_hour_by_hour(tmp_path):
    flushes: list[tuple[Path, int, int]] = []

    def record(path: Path, written: int) -> None:
        flushes.append((path, written, path.stat().st_size))

    manifest = generate(tmp_path, start=START, days=2, scale=5.0, on_flush=record)

    app_files = [entry for entry in manifest.files if entry.format == "app_json"]
    assert manifest.total_events > 100_000
    for entry in app_files:
        path = tmp_path / entry.path
        sizes = [size for flushed, _, size in flushes if flushed == path]
        counts = [written for flushed, written, _ in flushes if flushed == path]
        assert len(counts) >= 23
        assert sizes == sorted(sizes)
        assert sizes[0] > 0
        assert max(b - a for a, b in zip([0, *counts], counts, strict=False)) < entry.events / 10


def test_generate_command_prints_summary(tmp_path):
    from click.testing import CliRunner

    from socwb.commands.generate import generate as command

    arguments = ["--out", str(tmp_path), "--days", "2", "--scale", "0.05", "--start", "2025-03-03"]
    result = CliRunner().invoke(command, arguments)

    assert result.exit_code == 0, result.output
    assert "scenarios: 0" in result.output
    assert (tmp_path / "manifest.json").is_file()


def test_generate_command_rejects_bad_zone(tmp_path):
    from click.testing import CliRunner

    from socwb.commands.generate import generate as command

    arguments = ["--out", str(tmp_path), "--days", "2", "--timezone", "Nowhere/City"]
    result = CliRunner().invoke(command, arguments)

    assert result.exit_code == 2
    assert "unknown time zone" in result.output
