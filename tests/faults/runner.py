"""Run ingests for the fault tests: `socwb ingest` as a subprocess, or in a thread from a pipe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from faults.ledger import Ledger
from socwb.ingest.pipeline import IngestOptions, run_ingest
from socwb.ingest.summary import IngestSummary
from socwb.search import SearchBackend

SOCWB = [sys.executable, "-m", "socwb"]
_TOTAL_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+-\s+total$", re.MULTILINE)


def ingest_options(namespace: str, batch_size: int = 200) -> IngestOptions:
    """Options of an in-process ingest of generated application events."""
    return IngestOptions(
        source="app", namespace=namespace, format_name="app_json", batch_size=batch_size
    )


def socwb_environment(url: str, namespace: str, **settings: str) -> dict[str, str]:
    """Return the environment of a socwb subprocess for `url` and `namespace`.

    `settings` are search settings such as `max_retries="1"`.
    """
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SOCWB_")
    }
    environment.update(
        SOCWB_SEARCH__URLS=url,
        SOCWB_SEARCH__NAMESPACE=namespace,
        SOCWB_LOG_LEVEL="DEBUG",
    )
    for name, value in settings.items():
        environment[f"SOCWB_SEARCH__{name.upper()}"] = value
    return environment


@dataclass
class IngestProcess:
    """A running `socwb ingest`, with its stderr collected into `ledger` line by line."""

    process: subprocess.Popen[str]
    ledger: Ledger
    stderr: list[str] = field(default_factory=list)
    stdout: str = ""

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            self.ledger.add_text(line)

    def wait(self, timeout_s: float = 600) -> int:
        """Wait for the exit and return its status."""
        # communicate() would read stderr too, racing the reader thread for its lines.
        assert self.process.stdout is not None
        self.stdout = self.process.stdout.read()
        status = self.process.wait(timeout=timeout_s)
        self._reader.join(timeout=10)
        self.process.stdout.close()
        if self.process.stderr is not None:
            self.process.stderr.close()
        return status

    def totals(self) -> tuple[int, int, int, int, int]:
        """Return read, indexed, duplicate, parse and index dead letters of the summary."""
        match = _TOTAL_ROW.search(self.stdout)
        assert match is not None, f"no totals row in the ingest output:\n{self.stdout}"
        read, indexed, duplicates, parse, index = (int(value) for value in match.groups())
        return read, indexed, duplicates, parse, index


def start_ingest(
    environment: dict[str, str], path: Path, ledger: Ledger, batch_size: int = 200
) -> IngestProcess:
    """Start `socwb ingest` of generated application events in `path`."""
    command = [
        *SOCWB,
        "ingest",
        "--source",
        "app",
        "--format",
        "app_json",
        "--batch-size",
        str(batch_size),
        "--quiet",
        str(path),
    ]
    process = subprocess.Popen(
        command,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return IngestProcess(process, ledger)


class PipeFeeder:
    """Write generated lines into a pipe that an in-process ingest reads as standard input.

    A write blocks when the pipe is full, so `written` stops growing as soon
    as the ingest stops reading: that is how the tests see back-pressure. With
    `hold_after`, the feeder stops after that many lines until `release()`.
    """

    def __init__(self, lines: list[str], hold_after: int | None = None) -> None:
        self.lines = lines
        self.written = 0
        self.hold_after = hold_after
        self._released = threading.Event()
        read_end, write_end = os.pipe()
        self.reader = os.fdopen(read_end, "rb")
        self._writer = os.fdopen(write_end, "wb", buffering=0)
        self._thread = threading.Thread(target=self._feed, name="pipe-feeder", daemon=True)

    def start(self) -> PipeFeeder:
        """Start writing; return self."""
        self._thread.start()
        return self

    def _feed(self) -> None:
        try:
            for line in self.lines:
                if self.written == self.hold_after:
                    self._released.wait()
                self._writer.write(line.encode("utf-8") + b"\n")
                self.written += 1
        finally:
            self._writer.close()

    def release(self) -> None:
        """Let a feeder held after `hold_after` lines write the rest."""
        self._released.set()

    def close(self) -> None:
        """Wait for the writer and close the read end."""
        self._thread.join(timeout=30)
        self.reader.close()


@dataclass
class IngestThread:
    """`run_ingest` of standard input in a thread, keeping its summary or error."""

    backend: SearchBackend
    options: IngestOptions
    feeder: PipeFeeder
    summary: IngestSummary | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)

    def start(self) -> IngestThread:
        """Start the ingest; return self."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.summary = run_ingest(self.backend, ["-"], self.options, stdin=self.feeder.reader)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def join(self, timeout_s: float) -> IngestSummary:
        """Wait for the ingest and return its summary, or raise its error."""
        self._thread.join(timeout=timeout_s)
        assert not self._thread.is_alive(), f"the ingest did not finish within {timeout_s}s"
        self.feeder.close()
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary
