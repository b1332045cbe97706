"""The evidence pack's pure parts: seeded sampling, the writer, escaping and the manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from socwb.evidence.alert_sample import sample_ids
from socwb.evidence.pack import (
    PackDirectoryError,
    prepare_directory,
    row_class,
    table_csv,
    write_pack,
)
from socwb.evidence.table import EvidenceTable

IDS = [f"alert-{number:03d}" for number in range(200)]


def test_sample_same_seed_same_ids() -> None:
    assert sample_ids(IDS, 25, 7) == sample_ids(IDS, 25, 7)


def test_sample_ignores_input_order() -> None:
    assert sample_ids(list(reversed(IDS)), 25, 7) == sample_ids(IDS, 25, 7)


def test_sample_other_seed_other_ids() -> None:
    assert sample_ids(IDS, 25, 7) != sample_ids(IDS, 25, 8)


def test_sample_size_and_sorted() -> None:
    chosen = sample_ids(IDS, 25, 3)

    assert len(chosen) == 25
    assert len(set(chosen)) == 25
    assert chosen == sorted(chosen)
    assert set(chosen) <= set(IDS)


def test_sample_larger_than_population_takes_all() -> None:
    assert sample_ids(["b", "a", "b"], 25, 1) == ["a", "b"]


def test_sample_rejects_negative_size() -> None:
    with pytest.raises(ValueError, match="invalid sample size -1"):
        sample_ids(IDS, -1, 1)


def table(name: str = "findings", value: str = "ok") -> EvidenceTable:
    return EvidenceTable(
        name=name,
        title=f"Title of {name}",
        columns=["id", "status", "note"],
        rows=[
            {"id": 1, "status": "open gap", "note": value},
            {"id": 2, "status": "searched", "note": None},
        ],
        description="What it proves.",
    )


def test_pack_manifest_hashes_every_file(tmp_path: Path) -> None:
    write_pack(tmp_path, [table("one"), table("two")], {"period": "2026-11-01..2026-11-30"})

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    listed = {entry["path"]: entry for entry in manifest["files"]}
    on_disk = {
        str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file()
    } - {"manifest.json"}
    assert set(listed) == on_disk
    for path, entry in listed.items():
        data = (tmp_path / path).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    assert manifest["period"] == "2026-11-01..2026-11-30"


def test_pack_index_links_every_table(tmp_path: Path) -> None:
    write_pack(tmp_path, [table("one"), table("two")], {})

    index = (tmp_path / "index.html").read_text()
    for name in ("one", "two"):
        for suffix in ("html", "csv", "json"):
            assert f'href="tables/{name}.{suffix}"' in index


def test_pack_escapes_values(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script>'
    write_pack(tmp_path, [table(value=hostile)], {"period": "<b>"})

    page = (tmp_path / "tables" / "findings.html").read_text()
    index = (tmp_path / "index.html").read_text()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<b>" not in index


def test_pack_loads_no_external_assets(tmp_path: Path) -> None:
    write_pack(tmp_path, [table()], {})

    for page in tmp_path.rglob("*.html"):
        text = page.read_text()
        assert "http://" not in text
        assert "https://" not in text
        assert "src=" not in text


def test_pack_rejects_duplicate_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two evidence tables are named 'one'"):
        write_pack(tmp_path, [table("one"), table("one")], {})
    with pytest.raises(ValueError, match=r"invalid evidence table name '\.\./x'"):
        write_pack(tmp_path, [table("../x")], {})


def test_csv_has_header_and_empty_none() -> None:
    rows = list(csv.reader(io.StringIO(table_csv(table()))))

    assert rows[0] == ["id", "status", "note"]
    assert rows[2] == ["2", "searched", ""]


def test_row_class_flags_findings() -> None:
    assert row_class({"status": "open gap"}) == "flag"
    assert row_class({"due_outcome": "breached"}) == "flag"
    assert row_class({"status": "gap caught up"}) == "notice"
    assert row_class({"status": "searched"}) == ""


def test_directory_not_empty_rejected(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep")

    with pytest.raises(PackDirectoryError, match="is not empty"):
        prepare_directory(tmp_path, force=False)


def test_force_removes_previous_pack_only(tmp_path: Path) -> None:
    write_pack(tmp_path, [table("old")], {})
    (tmp_path / "notes.txt").write_text("keep")

    prepare_directory(tmp_path, force=True)

    assert not (tmp_path / "tables" / "old.csv").exists()
    assert not (tmp_path / "manifest.json").exists()
    assert (tmp_path / "notes.txt").read_text() == "keep"


def test_file_as_directory_rejected(tmp_path: Path) -> None:
    target = tmp_path / "pack"
    target.write_text("")

    with pytest.raises(PackDirectoryError, match="is a file"):
        prepare_directory(target, force=True)
