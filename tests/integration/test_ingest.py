"""`socwb ingest` on the real node: sample folders, engine counts, dead letters, replays."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from unit.ingest.conftest import datasets_dir, require_sample
from unit.ingest.test_samples import SAMPLES

from socwb.commands.ingest import EXIT_DEADLETTERED, ingest
from socwb.errors import QueryRejectedError
from socwb.ingest.indexer import deadletter_index
from socwb.ingest.pipeline import IngestOptions, event_index, run_ingest
from socwb.ingest.summary import IngestSummary
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend
from socwb.settings import Settings

pytestmark = pytest.mark.node

# File name -> (format, records, records rejected without a fallback time).
EXPECTED = {
    Path(relative).name: (fmt, records, rejects) for relative, fmt, records, rejects in SAMPLES
}


@pytest.fixture
def provisioned(backend: SearchBackend, namespace: str) -> SearchBackend:
    """The engine with this namespace's templates, pipelines and policies installed."""
    apply_assets(backend, namespace)
    return backend


def _options(namespace: str, source: str, **overrides: object) -> IngestOptions:
    values: dict[str, object] = {"source": source, "namespace": namespace, "default_year": 2024}
    values.update(overrides)
    return IngestOptions(**values)  # type: ignore[arg-type]


def _count(backend: SearchBackend, index: str, **terms: object) -> int:
    """Count documents in `index`, 0 when it was never created."""
    backend.refresh(index)
    query = {"bool": {"filter": [{"term": {k: v}} for k, v in terms.items()]}} if terms else None
    try:
        return backend.count(index, query)
    except QueryRejectedError as exc:
        if exc.status == 404:
            return 0
        raise


def _deadletters(backend: SearchBackend, namespace: str, file: str) -> list[dict[str, object]]:
    index = deadletter_index(namespace)
    backend.refresh(index)
    body = {"query": {"term": {"socwb.deadletter.file": file}}, "size": 1000}
    return [hit["_source"] for hit in backend.search(index, body)["hits"]["hits"]]


def _assert_accounted(summary: IngestSummary) -> None:
    for counts in summary.files.values():
        assert counts.read == counts.accounted, counts


@pytest.mark.parametrize("folder", ["network", "idp", "vulnscan"])
def test_ingest_sample_folder_matches_normalizer(
    provisioned: SearchBackend, namespace: str, folder: str
) -> None:
    path = datasets_dir() / folder
    if not path.is_dir():
        pytest.skip(f"sample folder {path} not found; set SOCWB_DATASETS")

    summary = run_ingest(provisioned, [str(path)], _options(namespace, folder))

    indexed_per_format: Counter[str] = Counter()
    for label, counts in summary.files.items():
        fmt, records, rejects = EXPECTED[Path(label).name]
        assert counts.format_name == fmt
        assert counts.read == records
        assert counts.parse_deadlettered == rejects
        assert counts.index_deadlettered == 0
        # Sample files may repeat a record; the engine stores it once.
        assert counts.indexed + counts.duplicates == records - rejects
        assert (
            _count(provisioned, deadletter_index(namespace), **{"socwb.deadletter.file": label})
            == rejects
        )
        indexed_per_format[fmt] += counts.indexed
    for fmt, indexed in indexed_per_format.items():
        assert _count(provisioned, event_index(folder, fmt, namespace)) == indexed
    assert summary.totals.read == summary.totals.accounted


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("network/openssh_auth.log", "network"),
        ("cloud/aws_cloudtrail_panther_tests.json", "cloud"),
        ("idp/okta_system_log_panther_tests.ndjson", "idp"),
        ("vulnscan/trivy_image_report_alpine39.json", "vulnscan"),
    ],
    ids=["openssh", "cloudtrail-document", "okta", "trivy"],
)
def test_ingest_sample_file_counts(
    provisioned: SearchBackend, namespace: str, relative: str, source: str
) -> None:
    path = require_sample(relative)
    fmt, records, rejects = EXPECTED[path.name]

    summary = run_ingest(provisioned, [str(path)], _options(namespace, source))
    counts = summary.files[str(path.resolve())]

    assert counts.read == records
    assert counts.parse_deadlettered == rejects
    assert _count(provisioned, event_index(source, fmt, namespace)) == counts.indexed
    assert counts.indexed + counts.duplicates == records - rejects


def test_deadletters_carry_reason_file_and_line(provisioned: SearchBackend, namespace: str) -> None:
    path = require_sample("idp/okta_system_log_panther_tests.ndjson")
    label = str(path.resolve())

    run_ingest(provisioned, [str(path)], _options(namespace, "idp"))
    stored = _deadletters(provisioned, namespace, label)

    assert len(stored) == EXPECTED[path.name][2]
    for deadletter in stored:
        meta = deadletter["socwb"]["deadletter"]  # type: ignore[index]
        assert meta["stage"] == "parse"
        assert meta["source"] == "idp"
        assert meta["format"] == "okta"
        assert isinstance(meta["line_number"], int)
        assert "missing or invalid timestamp" in deadletter["error"]["message"]  # type: ignore[index]
        assert deadletter["error"]["type"] == "parse_error"  # type: ignore[index]
        assert deadletter["event"]["original"]  # type: ignore[index]
    lines = path.read_text(encoding="utf-8").splitlines()
    first = stored[0]["socwb"]["deadletter"]["line_number"]  # type: ignore[index]
    assert stored[0]["event"]["original"] == lines[first - 1]  # type: ignore[index]


def test_reingest_adds_nothing(provisioned: SearchBackend, namespace: str) -> None:
    path = require_sample("idp/okta_system_log_panther_tests.ndjson")
    label = str(path.resolve())
    options = _options(namespace, "idp")
    events = event_index("idp", "okta", namespace)

    first = run_ingest(provisioned, [str(path)], options).files[label]
    events_after_first = _count(provisioned, events)
    deadletters_after_first = _count(provisioned, deadletter_index(namespace))
    second = run_ingest(provisioned, [str(path)], options).files[label]

    assert first.indexed > 0
    assert second.read == first.read
    assert second.indexed == 0
    assert second.duplicates == first.indexed + first.duplicates
    assert second.parse_deadlettered == first.parse_deadlettered
    assert _count(provisioned, events) == events_after_first
    assert _count(provisioned, deadletter_index(namespace)) == deadletters_after_first


def test_gzip_and_plain_copies_share_ids(
    provisioned: SearchBackend, namespace: str, tmp_path: Path
) -> None:
    source = require_sample("network/openvpn_server.log")
    packed = tmp_path / "openvpn_server.log.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    options = _options(namespace, "network")

    plain = run_ingest(provisioned, [str(source)], options).totals
    compressed = run_ingest(provisioned, [str(packed)], options).totals

    assert plain.indexed == 20
    assert compressed.read == 20
    assert compressed.duplicates == 20
    assert _count(provisioned, event_index("network", "openvpn", namespace)) == 20


def test_cli_exit_codes(provisioned: SearchBackend, settings: Settings) -> None:
    clean = require_sample("network/openvpn_server.log")
    rejecting = require_sample("idp/okta_system_log_panther_tests.ndjson")
    runner = CliRunner()

    ok = runner.invoke(
        ingest, ["--source", "network", "--year", "2024", "-q", str(clean)], obj=settings
    )
    with_rejects = runner.invoke(ingest, ["--source", "idp", "-q", str(rejecting)], obj=settings)

    assert ok.exit_code == 0, ok.output
    assert "openvpn" in ok.output
    assert with_rejects.exit_code == EXIT_DEADLETTERED, with_rejects.output
    assert f"{EXPECTED[rejecting.name][2]:>9}" in with_rejects.output


def test_cli_stdin_with_format(
    provisioned: SearchBackend, settings: Settings, namespace: str
) -> None:
    data = require_sample("network/openvpn_server.log").read_bytes()

    result = CliRunner().invoke(
        ingest,
        ["--source", "network", "--format", "openvpn", "--year", "2024", "-q", "-"],
        obj=settings,
        input=data,
    )

    assert result.exit_code == 0, result.output
    assert _count(provisioned, event_index("network", "openvpn", namespace)) == 20


def test_cli_unknown_format_is_usage_error(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some words\n")

    result = CliRunner().invoke(ingest, ["--source", "network", "-q", str(path)], obj=settings)

    assert result.exit_code == 2
    assert "unknown input format" in result.output
    assert "--format" in result.output


def test_cli_source_mismatch_is_usage_error(settings: Settings) -> None:
    path = require_sample("network/openvpn_server.log")

    result = CliRunner().invoke(
        ingest, ["--source", "cloud", "--format", "openvpn", "-q", str(path)], obj=settings
    )

    assert result.exit_code == 2
    assert "belongs to source 'network', not 'cloud'" in result.output
