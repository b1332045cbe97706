"""One table of the evidence pack, written as HTML, CSV and JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EvidenceTable:
    """Rows of one evidence table with their column order.

    Attributes:
        name: File stem of the table's CSV and JSON files, e.g. `selftest_results`.
        title: Heading on the pack's HTML pages.
        columns: Column names in display order; every row has these keys.
        rows: One mapping per row, with JSON-serialisable values.
        description: What the table proves and how it was produced.
    """

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""

    def __post_init__(self) -> None:
        for index, row in enumerate(self.rows):
            missing = [column for column in self.columns if column not in row]
            if missing:
                raise ValueError(
                    f"evidence table {self.name!r} row {index} lacks columns {missing}: "
                    "give every row a value for each column"
                )
