"""Streaming writers of the generated files: one file per source, format and local day,
written hour by hour and flushed after each hour, so memory keeps at most one hour."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from socwb.demo.manifest import FileEntry

logger = logging.getLogger(__name__)

FlushCallback = Callable[[Path, int], None]
"""Called after each flush with the file path and the records written to it so far."""


class DayFileWriter:
    """Writes one day file; the file is created with its first record, never empty."""

    def __init__(
        self,
        output_dir: Path,
        relative: str,
        where: tuple[str, str],
        syslog_year: int | None = None,
        on_flush: FlushCallback | None = None,
    ) -> None:
        """Prepare `<output_dir>/<relative>` for the format `where = (source, format)`."""
        self.path = output_dir / relative
        self.relative = relative
        self.source, self.format_name = where
        self.syslog_year = syslog_year
        self.on_flush = on_flush
        self.events = 0
        self._stream: TextIO | None = None

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append records, one per line, and flush them to disk."""
        for line in lines:
            if self._stream is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = self.path.open("w", encoding="utf-8", newline="\n")
            self._stream.write(line)
            self._stream.write("\n")
            self.events += 1
        if self._stream is not None:
            self._stream.flush()
            if self.on_flush is not None:
                self.on_flush(self.path, self.events)

    def close(self) -> FileEntry | None:
        """Close the file and return its manifest entry, or None when nothing was written."""
        if self._stream is None:
            return None
        self._stream.close()
        self._stream = None
        return FileEntry(
            path=self.relative,
            source=self.source,
            format=self.format_name,
            events=self.events,
            syslog_year=self.syslog_year,
        )


def write_document(
    output_dir: Path, relative: str, where: tuple[str, str], text: str, events: int
) -> FileEntry:
    """Write one whole document (a Trivy report) and return its manifest entry."""
    path = output_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    return FileEntry(path=relative, source=where[0], format=where[1], events=events)
