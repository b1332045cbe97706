"""Counts of one ingest run, per input file and in total, and their text form."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class FileCounts:
    """Records of one input and what became of them.

    `read` counts every record a normalizer returned, events and rejections alike.
    Once a run finishes, `read == indexed + duplicates + parse_deadlettered +
    index_deadlettered`. A dead letter that already existed from an earlier run
    still counts as dead-lettered.
    """

    file: str
    format_name: str
    read: int = 0
    indexed: int = 0
    duplicates: int = 0
    parse_deadlettered: int = 0
    index_deadlettered: int = 0

    @property
    def deadlettered(self) -> int:
        """Records stored in the dead-letter data stream, both stages."""
        return self.parse_deadlettered + self.index_deadlettered

    @property
    def accounted(self) -> int:
        """Records the engine acknowledged in any form."""
        return self.indexed + self.duplicates + self.deadlettered

    def add(self, other: FileCounts) -> None:
        """Add the counts of `other` to these."""
        self.read += other.read
        self.indexed += other.indexed
        self.duplicates += other.duplicates
        self.parse_deadlettered += other.parse_deadlettered
        self.index_deadlettered += other.index_deadlettered


@dataclass
class IngestSummary:
    """The outcome of one ingest run.

    Attributes:
        files: Counts per input, in the order the inputs were read.
        batches: Bulk batches acknowledged.
        retries: Item retries after 429/502/503/504 responses.
        elapsed_s: Wall time of the run, in seconds.
        not_written: Records read but not acknowledged when the run stopped early.
        resume_at: `<file> line N` (or `record N`) of the first record not
            acknowledged, when the run stopped early.
    """

    files: dict[str, FileCounts] = field(default_factory=dict)
    batches: int = 0
    retries: int = 0
    elapsed_s: float = 0.0
    not_written: int = 0
    resume_at: str | None = None

    def file(self, label: str, format_name: str) -> FileCounts:
        """Return the counts of one input, creating them on first use."""
        counts = self.files.get(label)
        if counts is None:
            counts = self.files[label] = FileCounts(label, format_name)
        return counts

    @property
    def totals(self) -> FileCounts:
        """Counts summed over every input."""
        total = FileCounts("total", "-")
        for counts in self.files.values():
            total.add(counts)
        return total

    @property
    def events_per_second(self) -> float:
        """Records read per second of wall time."""
        return self.totals.read / self.elapsed_s if self.elapsed_s > 0 else 0.0


def format_summary(summary: IngestSummary) -> str:
    """Render the summary as a table: one row per input, then the totals."""
    header = (
        f"{'read':>9} {'indexed':>9} {'duplicate':>9} {'dl-parse':>9} {'dl-index':>9}  format  file"
    )
    rows = [header]
    for counts in [*summary.files.values(), summary.totals]:
        rows.append(
            f"{counts.read:>9} {counts.indexed:>9} {counts.duplicates:>9} "
            f"{counts.parse_deadlettered:>9} {counts.index_deadlettered:>9}  "
            f"{counts.format_name}  {counts.file}"
        )
    rows.append(
        f"{summary.batches} batches, {summary.retries} retries, {summary.elapsed_s:.1f} s, "
        f"{summary.events_per_second:.0f} events/s"
    )
    if summary.resume_at is not None:
        rows.append(
            f"stopped early: {summary.not_written} records not written; "
            f"resume at {summary.resume_at}"
        )
    return "\n".join(rows)
