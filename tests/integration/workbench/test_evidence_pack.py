"""socwb evidence on a real node: a small hand-made period written as a pack and read back."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import KEPT_VARIABLES, remove_namespace

from socwb import integrity
from socwb.alerts.store import AlertStore
from socwb.alerts.workflow import AlertWorkflow
from socwb.checkpoints import RunRecord, RunStore
from socwb.commands.evidence import evidence
from socwb.incidents import IncidentService
from socwb.lifecycle_fallback import run_lifecycle
from socwb.provisioning import apply_assets
from socwb.rules.model import Severity, iso
from socwb.search import SearchBackend, create_backend
from socwb.settings import Settings
from socwb.tuning import FieldCondition, SuppressionStore

from .conftest import ANALYST, REVIEWER, build_alert

pytestmark = pytest.mark.node

ALERTS = 12
HOSTILE = '<script>alert("pack")</script>'
TABLES = {
    "sources",
    "retention_indices",
    "integrity_summary",
    "integrity_findings",
    "coverage_ledger",
    "coverage_gaps",
    "alert_sample",
    "alert_sample_history",
    "suppression_changes",
    "suppression_reviews",
    "monthly_figures",
}


@dataclass(frozen=True)
class PeriodData:
    """What the hand-made period contains."""

    first_day: str
    last_day: str
    alert_ids: list[str]
    canary_id: str
    acknowledged_id: str
    incident_title: str


@pytest.fixture(scope="module")
def pack_settings(search_url: str) -> Settings:
    """Settings of a namespace shared by this module's tests, which only read its data."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SOCWB_") and name not in KEPT_VARIABLES:
                patch.delenv(name)
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            search={"urls": [search_url], "namespace": "t" + uuid.uuid4().hex[:10]},
        )


@pytest.fixture(scope="module")
def period_data(pack_settings: Settings) -> Iterator[PeriodData]:
    """Write the period once for the module, and remove its namespace afterwards."""
    backend = create_backend(pack_settings.search)
    try:
        yield _write_period(backend, pack_settings.search.namespace)
    finally:
        remove_namespace(backend, pack_settings.search.namespace)
        backend.close()


def _write_period(backend: SearchBackend, namespace: str) -> PeriodData:
    """Logs of one source, 12 alerts and a canary, one handled alert, a suppression, runs."""
    now = datetime.now(UTC)
    apply_assets(backend, namespace)
    _index_logins(backend, f"logs-idp.okta-{namespace}", [now - timedelta(hours=2), now])
    run_lifecycle(backend, namespace, now)

    alerts = [
        build_alert(created_at=now - timedelta(minutes=30 + number), user=f"user{number}")
        for number in range(ALERTS)
    ]
    canary = build_alert(created_at=now - timedelta(minutes=5), rule_id="selftest_canary")
    alert_store = AlertStore(backend, namespace)
    alert_store.ensure_index()
    assert alert_store.create_many([*alerts, canary]) == []
    alert_store.refresh()

    handled = alerts[0]
    workflow = AlertWorkflow(backend, namespace)
    workflow.acknowledge(ANALYST, workflow.open(ANALYST, handled.id))
    incidents = IncidentService(backend, namespace)
    incident = incidents.create(ANALYST, "Credential stuffing on idp", Severity.HIGH)
    incidents.link_alert(ANALYST, incident, handled.id)

    store = SuppressionStore(backend, namespace)
    proposal = store.propose(
        ANALYST,
        rule_ids=["auth_failure_spike"],
        conditions=[FieldCondition(field="user.name", value="scanner")],
        justification=f"Vulnerability scanner account {HOSTILE}",
        expires_at=now + timedelta(days=30),
        now=now,
    )
    store.approve(REVIEWER, proposal.id, now=now + timedelta(seconds=1))

    runs = RunStore(backend, namespace)
    runs.ensure_index()
    for start, end in ((3, 2), (1, 0)):
        runs.write(
            RunRecord(
                run_id=f"run-{start}",
                rule_id="auth_failure_spike",
                started_at=now - timedelta(hours=end),
                arrival_start=now - timedelta(hours=start),
                arrival_end=now - timedelta(hours=end),
            )
        )
    integrity.record_digests(backend, namespace, now)

    return PeriodData(
        first_day=(now - timedelta(days=1)).date().isoformat(),
        last_day=now.date().isoformat(),
        alert_ids=sorted(alert.id for alert in alerts),
        canary_id=canary.id,
        acknowledged_id=handled.id,
        incident_title=incident.title,
    )


def _index_logins(backend: SearchBackend, stream: str, moments: list[datetime]) -> None:
    operations: list[dict[str, Any]] = []
    for moment in moments:
        operations.append({"create": {"_index": stream}})
        operations.append(
            {
                "@timestamp": iso(moment),
                "event": {"category": ["authentication"], "outcome": "success"},
                "user": {"name": "ann"},
                "host": {"name": "idp-01"},
            }
        )
    result, _ = backend.bulk(operations, refresh=True)
    assert result.created == len(moments)


def write_pack(settings: Settings, data: PeriodData, out: Path, *extra: str) -> Result:
    arguments = ["--from", data.first_day, "--to", data.last_day, "--out", str(out), *extra]
    return CliRunner().invoke(evidence, arguments, obj=settings)


def read_table(out: Path, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((out / "tables" / f"{name}.json").read_text())["rows"]
    return rows


def sampled_ids(out: Path) -> list[str]:
    return [row["alert_id"] for row in read_table(out, "alert_sample")]


def test_manifest_lists_every_file_with_hash(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    out = tmp_path / "pack"

    result = write_pack(pack_settings, period_data, out, "--seed", "1")

    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    on_disk = {str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()}
    assert set(listed) == on_disk - {"manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == digest, path
    assert manifest["seed"] == 1
    assert manifest["period"] == f"{period_data.first_day}..{period_data.last_day}"


def test_index_links_every_table(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    out = tmp_path / "pack"

    write_pack(pack_settings, period_data, out, "--seed", "1")

    index = (out / "index.html").read_text()
    names = {path.stem for path in (out / "tables").glob("*.json")}
    assert names >= TABLES
    for name in names:
        for suffix in ("html", "csv", "json"):
            assert f'href="tables/{name}.{suffix}"' in index, f"{name}.{suffix}"


def test_sample_same_seed_same_alerts(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    first, again, other = tmp_path / "first", tmp_path / "again", tmp_path / "other"

    write_pack(pack_settings, period_data, first, "--seed", "11", "--sample-size", "4")
    write_pack(pack_settings, period_data, again, "--seed", "11", "--sample-size", "4")
    write_pack(pack_settings, period_data, other, "--seed", "12", "--sample-size", "4")

    assert sampled_ids(first) == sampled_ids(again)
    assert sampled_ids(first) != sampled_ids(other)
    assert len(sampled_ids(first)) == 4
    assert set(sampled_ids(first)) <= set(period_data.alert_ids)
    history_ids = {row["alert_id"] for row in read_table(first, "alert_sample_history")}
    assert history_ids <= set(sampled_ids(first))


def test_sample_leaves_out_canaries(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    out = tmp_path / "pack"

    write_pack(pack_settings, period_data, out, "--seed", "3", "--sample-size", "100")

    assert sorted(sampled_ids(out)) == period_data.alert_ids
    assert period_data.canary_id not in sampled_ids(out)


def test_sampled_alert_shows_response_and_incident(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    out = tmp_path / "pack"

    write_pack(pack_settings, period_data, out, "--seed", "3", "--sample-size", "100")

    rows = {row["alert_id"]: row for row in read_table(out, "alert_sample")}
    handled = rows[period_data.acknowledged_id]
    assert handled["due_outcome"] == "met"
    assert handled["acknowledged_by"] == ANALYST.name
    assert handled["time_to_acknowledge_seconds"] > 0
    assert period_data.incident_title in handled["incidents"]
    assert handled["history_entries"] == 2
    untouched = [row for key, row in rows.items() if key != period_data.acknowledged_id]
    assert {row["due_outcome"] for row in untouched} == {"pending"}
    actions = [
        row["action"]
        for row in read_table(out, "alert_sample_history")
        if row["alert_id"] == period_data.acknowledged_id
    ]
    assert actions == ["acknowledge", "link_incident"]


def test_suppression_approval_by_second_person(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    out = tmp_path / "pack"

    write_pack(pack_settings, period_data, out, "--seed", "1")

    changes = read_table(out, "suppression_changes")
    assert [(row["action"], row["actor"]) for row in changes] == [
        ("propose", ANALYST.name),
        ("approve", REVIEWER.name),
    ]
    assert changes[1]["is_second_person"] is True
    reviews = read_table(out, "suppression_reviews")
    assert {row["state"] for row in reviews} == {"approved"}
    assert reviews[0]["decided_by"] == REVIEWER.name
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", reviews[0]["expires_at"])
    page = (out / "tables" / "suppression_changes.html").read_text()
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page


def test_sources_ledger_and_figures_tables(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    out = tmp_path / "pack"

    write_pack(pack_settings, period_data, out, "--seed", "1")

    sources = {row["source"]: row for row in read_table(out, "sources")}
    assert sources["idp"]["oldest_event"] is not None
    assert sources["idp"]["newest_event"] >= sources["idp"]["oldest_event"]
    assert sources["idp"]["events_in_period"] == 2
    assert sources["idp"]["policies"] == f"socwb-retention-idp-{pack_settings.search.namespace}"
    assert sources["idp"]["effective_retention_days"] >= sources["idp"]["required_retention_days"]
    assert sources["idp"]["status"] == "ok"
    assert "missing log type" in sources["idp"]["coverage_findings"]
    assert sources["cloud"]["status"] == "no data"
    indices = read_table(out, "retention_indices")
    assert [row["source"] for row in indices] == ["idp"]
    assert indices[0]["is_retention_met"] is True
    summary = read_table(out, "integrity_summary")[0]
    assert summary["result"] == "verified"
    assert summary["indices_checked"] >= 1
    gaps = read_table(out, "coverage_gaps")
    assert [(row["rule_id"], row["status"]) for row in gaps] == [("auth_failure_spike", "open gap")]
    assert gaps[0]["found_by_run"] == "run-1"
    figures = read_table(out, "monthly_figures")
    totals = [row for row in figures if row["metric"] == "total_alerts"]
    assert sum(int(row["value"]) for row in totals) == ALERTS
    ledger_page = (out / "tables" / "coverage_ledger.html").read_text()
    assert '<tr class="flag">' in ledger_page


def test_non_empty_directory_needs_force(
    pack_settings: Settings, period_data: PeriodData, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    (out / "notes.txt").write_text("auditor notes")

    rejected = write_pack(pack_settings, period_data, out, "--seed", "1")
    files_after_rejection = sorted(path.name for path in out.iterdir())
    forced = write_pack(pack_settings, period_data, out, "--seed", "1", "--force")

    assert rejected.exit_code == 2
    assert f"--out {out} is not empty" in rejected.output
    assert files_after_rejection == ["notes.txt"]
    assert forced.exit_code == 0, forced.output
    assert (out / "index.html").exists()
    assert (out / "notes.txt").read_text() == "auditor notes"


def test_bad_date_names_value(settings: Settings, tmp_path: Path) -> None:
    arguments = ["--from", "2026-11-31", "--to", "2026-12-01", "--out", str(tmp_path / "pack")]

    result = CliRunner().invoke(evidence, arguments, obj=settings)

    assert result.exit_code == 2
    assert "invalid date '2026-11-31' for --from" in result.output
    assert not (tmp_path / "pack").exists()
