"""The evidence pack writer: an HTML index, each table as HTML, CSV and JSON, and a manifest.

The folder is meant for an auditor without the product. The HTML pages load no
script, style sheet or font from anywhere, and every value is HTML-escaped.
`manifest.json` lists the SHA-256 and size of every other file, so a copy can be
checked with `sha256sum` alone.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socwb.errors import WorkbenchError
from socwb.evidence.table import EvidenceTable

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
INDEX = "index.html"
TABLES_DIR = "tables"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")

FLAG_COLUMNS = ("status", "due_outcome", "result")
FLAGGED_VALUES = frozenset({"open gap", "finding", "findings", "breached"})
NOTICE_VALUES = frozenset({"gap caught up", "no data", "no digests recorded", "pending"})

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #1a1a1a; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #999; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
tr.flag td { background: #f8c9c4; font-weight: bold; }
tr.notice td { background: #fcefc0; }
p.description { max-width: 60em; }
"""


class PackDirectoryError(WorkbenchError):
    """The output directory of an evidence pack cannot be used."""


@dataclass(frozen=True)
class WrittenFile:
    """One file of the pack, relative to its folder, with its SHA-256 and size in bytes."""

    path: str
    sha256: str
    size: int


def check_directory(out: Path, *, force: bool) -> None:
    """Raise unless the pack may be written to `out`, without changing anything.

    Raises:
        PackDirectoryError: The path is a file, or a non-empty directory without `force`.
    """
    if out.exists() and not out.is_dir():
        raise PackDirectoryError(f"--out {out} is a file: give a directory for the evidence pack")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise PackDirectoryError(
            f"--out {out} is not empty: choose a new directory, or pass --force to "
            "replace the pack in it"
        )


def prepare_directory(out: Path, *, force: bool) -> None:
    """Check the output directory as `check_directory` does, then create it or clear it.

    With `force`, the files an earlier pack listed in its manifest are removed first,
    so no stale table remains. Other files in the directory are left alone.

    Raises:
        PackDirectoryError: As `check_directory`.
    """
    check_directory(out, force=force)
    if out.is_dir() and force:
        _remove_previous_pack(out)
    out.mkdir(parents=True, exist_ok=True)


def _remove_previous_pack(out: Path) -> None:
    manifest = out / MANIFEST
    if not manifest.is_file():
        return
    try:
        listed = [entry["path"] for entry in json.loads(manifest.read_text("utf-8"))["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("earlier manifest not readable path=%s error=%s", manifest, exc)
        return
    root = out.resolve()
    for relative in [*listed, MANIFEST]:
        path = (out / str(relative)).resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink()


def write_pack(
    out: Path, tables: Sequence[EvidenceTable], metadata: Mapping[str, Any]
) -> list[WrittenFile]:
    """Write every table, the index page and the manifest, and return the files it lists.

    Raises:
        ValueError: A table name is not a lowercase file stem, or two tables share a name.
    """
    _check_names(tables)
    (out / TABLES_DIR).mkdir(exist_ok=True)
    written = []
    for table in tables:
        stem = f"{TABLES_DIR}/{table.name}"
        written.append(_write(out, f"{stem}.html", table_page(table, metadata)))
        written.append(_write(out, f"{stem}.csv", table_csv(table)))
        written.append(_write(out, f"{stem}.json", table_json(table)))
    written.append(_write(out, INDEX, index_page(tables, metadata)))
    written.sort(key=lambda item: item.path)
    manifest = {
        **metadata,
        "files": [
            {"path": item.path, "sha256": item.sha256, "bytes": item.size} for item in written
        ],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    logger.info("evidence pack written path=%s tables=%d files=%d", out, len(tables), len(written))
    return written


def _check_names(tables: Sequence[EvidenceTable]) -> None:
    seen: set[str] = set()
    for table in tables:
        if not NAME_PATTERN.match(table.name):
            raise ValueError(
                f"invalid evidence table name {table.name!r}: use lowercase letters, digits "
                "and underscores, starting with a letter or digit"
            )
        if table.name in seen:
            raise ValueError(f"two evidence tables are named {table.name!r}: rename one")
        seen.add(table.name)


def _write(out: Path, relative: str, text: str) -> WrittenFile:
    data = text.encode("utf-8")
    (out / relative).write_bytes(data)
    return WrittenFile(relative, hashlib.sha256(data).hexdigest(), len(data))


# Renderers ----------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """Format one value for CSV and HTML: empty for None, `true`/`false`, JSON for lists."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=str)
    return str(value)


def table_csv(table: EvidenceTable) -> str:
    """Return the table as CSV with a header row in column order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([cell_text(row[column]) for column in table.columns])
    return buffer.getvalue()


def table_json(table: EvidenceTable) -> str:
    """Return the table as JSON: name, title, description, columns and rows."""
    document = {
        "name": table.name,
        "title": table.title,
        "description": table.description,
        "columns": table.columns,
        "rows": [{column: row[column] for column in table.columns} for row in table.rows],
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def row_class(row: Mapping[str, Any]) -> str:
    """Return `flag` for a row with a finding, `notice` for one worth a look, else empty."""
    values = {str(row.get(column)) for column in FLAG_COLUMNS}
    if values & FLAGGED_VALUES:
        return "flag"
    if values & NOTICE_VALUES:
        return "notice"
    return ""


def table_html(table: EvidenceTable) -> str:
    """Return the table as an HTML `<table>` element with escaped values."""
    head = "".join(f"<th>{html.escape(column)}</th>" for column in table.columns)
    body = []
    for row in table.rows:
        css = row_class(row)
        opening = f'<tr class="{css}">' if css else "<tr>"
        cells = "".join(
            f"<td>{html.escape(cell_text(row[column]))}</td>" for column in table.columns
        )
        body.append(f"{opening}{cells}</tr>")
    if not table.rows:
        body.append(f'<tr><td colspan="{len(table.columns)}">(no rows)</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(title: str, content: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{content}</body></html>\n"
    )


def table_page(table: EvidenceTable, metadata: Mapping[str, Any]) -> str:
    """Return the HTML page of one table, with links back to the index and to its files."""
    links = (
        f'<p><a href="../{INDEX}">Index</a> | <a href="{html.escape(table.name)}.csv">CSV</a> | '
        f'<a href="{html.escape(table.name)}.json">JSON</a></p>'
    )
    content = (
        f"{links}<h1>{html.escape(table.title)}</h1>"
        f"<p>Period {html.escape(str(metadata.get('period', '')))}, "
        f"{len(table.rows)} rows.</p>"
        f'<p class="description">{html.escape(table.description)}</p>{table_html(table)}'
    )
    return _page(table.title, content)


def index_page(tables: Sequence[EvidenceTable], metadata: Mapping[str, Any]) -> str:
    """Return the index page: the pack's metadata and a link to every table and its files."""
    facts = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(cell_text(value))}</td></tr>"
        for key, value in metadata.items()
    )
    items = []
    for table in tables:
        stem = html.escape(f"{TABLES_DIR}/{table.name}")
        items.append(
            f'<li><a href="{stem}.html">{html.escape(table.title)}</a> '
            f'({len(table.rows)} rows; <a href="{stem}.csv">CSV</a>, '
            f'<a href="{stem}.json">JSON</a>)<br>{html.escape(table.description)}</li>'
        )
    content = (
        "<h1>SOC 2 evidence pack</h1>"
        f"<table>{facts}</table>"
        f"<p>{MANIFEST} lists the SHA-256 of every other file of this folder.</p>"
        f"<h2>Tables</h2><ol>{''.join(items)}</ol>"
    )
    return _page("SOC 2 evidence pack", content)
