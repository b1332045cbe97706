"""Input files for ingest: path expansion, gzip, stdin and line reading with bounded memory."""

from __future__ import annotations

import gzip
import io
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from socwb.errors import WorkbenchError

logger = logging.getLogger(__name__)

STDIN_LABEL = "-"
"""Path argument, and `log.file.path` value, that stand for standard input."""

HEAD_BYTES = 64 * 1024
"""Bytes of an input read ahead for format detection (`detect.HEAD_CHARS` characters)."""

MAX_LINE_BYTES = 8 * 1024 * 1024
"""Maximum line length in bytes for line normalizers; longer lines are dead-lettered.

It is above the 4 Mi character limit that the JSON normalizers apply to one record, so
every line that a normalizer could accept reaches it.
"""

_GZIP_MAGIC = b"\x1f\x8b"


class InputError(WorkbenchError):
    """An input path cannot be read: missing, not a regular file, or given twice."""


@dataclass(frozen=True)
class InputFile:
    """One input of an ingest run.

    Attributes:
        label: The absolute path, or `-` for standard input; stored in `log.file.path`.
        path: The file to open, or None for standard input.
    """

    label: str
    path: Path | None

    @property
    def is_stdin(self) -> bool:
        """Whether the input is standard input."""
        return self.path is None


@dataclass(frozen=True)
class OversizedLine:
    """A line longer than the reader's limit, skipped instead of being held in memory.

    Attributes:
        line_number: 1-based line of the file.
        head: The first bytes of the line, for the dead letter.
        length: Length of the whole line in bytes, without its terminator.
    """

    line_number: int
    head: bytes
    length: int


def expand_paths(arguments: Sequence[str]) -> list[InputFile]:
    """Turn command-line paths into inputs: files as given, folders recursively, sorted.

    Args:
        arguments: Files, folders or `-` for standard input, in command-line order.

    Returns:
        One input per file. Folder contents are sorted by path; hidden files
        (names starting with `.`) inside folders are skipped.

    Raises:
        InputError: A path does not exist or is not a file or folder, `-` appears
            twice, or a folder contains no files.
    """
    inputs: list[InputFile] = []
    for argument in arguments:
        if argument == STDIN_LABEL:
            inputs.append(InputFile(STDIN_LABEL, None))
            continue
        path = Path(argument)
        if path.is_dir():
            inputs.extend(_folder_inputs(path))
        elif path.is_file():
            inputs.append(InputFile(str(path.resolve()), path))
        else:
            raise InputError(f"input {argument!r} is not found or is not a file or folder")
    if sum(1 for item in inputs if item.is_stdin) > 1:
        raise InputError("standard input ('-') can be given only once")
    return inputs


def _folder_inputs(folder: Path) -> list[InputFile]:
    files = sorted(
        path for path in folder.rglob("*") if path.is_file() and not _is_hidden(path, folder)
    )
    if not files:
        raise InputError(f"folder {str(folder)!r} contains no files to ingest")
    return [InputFile(str(path.resolve()), path) for path in files]


def _is_hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def open_binary(stream: BinaryIO) -> BinaryIO:
    """Return `stream`, or a decompressing reader when it starts with the gzip magic bytes.

    The check peeks at a buffered stream (pipes included) and reads and seeks back
    on other seekable streams, so nothing is consumed.
    """
    if isinstance(stream, io.BufferedReader):
        start = stream.peek(len(_GZIP_MAGIC))[: len(_GZIP_MAGIC)]
    elif stream.seekable():
        position = stream.tell()
        start = stream.read(len(_GZIP_MAGIC))
        stream.seek(position)
    else:
        raise InputError("input stream is neither buffered nor seekable, so it cannot be read")
    if start == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    return stream


class LineReader:
    """Read one binary input line by line, with the head kept for format detection.

    Lines longer than `max_line_bytes` are consumed in chunks and replaced by a
    blank line, which normalizers skip, so line numbers stay right. The skipped
    line is queued in `oversized` for the caller to dead-letter. With
    `max_line_bytes=None` lines are not limited; whole-document formats need that.
    """

    def __init__(self, stream: BinaryIO, *, max_line_bytes: int | None = MAX_LINE_BYTES) -> None:
        """Wrap `stream`, which must be positioned at the start of the input."""
        self._stream = stream
        self._head = stream.read(HEAD_BYTES)
        self.max_line_bytes = max_line_bytes
        self.oversized: deque[OversizedLine] = deque()
        self.lines_read = 0
        self._started = False

    def head_text(self) -> str:
        """Return the start of the input decoded as UTF-8, for `detect_format`."""
        return self._head.decode("utf-8", errors="replace")

    def lines(self) -> Iterator[bytes]:
        """Yield every line with its terminator; callable once.

        Raises:
            RuntimeError: `lines` was already called.
        """
        if self._started:
            raise RuntimeError("LineReader.lines() can be iterated only once")
        self._started = True
        source = _HeadThenRest(self._head, self._stream)
        self._head = b""
        limit = self.max_line_bytes
        readline = source.readline
        while True:
            # Two bytes more than the limit leave room for a CRLF terminator.
            line = readline(-1 if limit is None else limit + 2)
            if not line:
                return
            self.lines_read += 1
            if limit is not None and len(line) > limit and not _fits(line, limit):
                self.oversized.append(self._skip_rest(line, limit, readline))
                yield b"\n"
                continue
            yield line

    def _skip_rest(
        self, first: bytes, limit: int, readline: Callable[[int], bytes]
    ) -> OversizedLine:
        length = len(first)
        chunk = first
        while not chunk.endswith(b"\n"):
            chunk = readline(limit)
            if not chunk:
                break
            length += len(chunk)
        length -= len(_terminator(chunk))
        logger.debug("skipped oversized line=%d bytes=%d", self.lines_read, length)
        return OversizedLine(self.lines_read, first[:limit], length)


def _fits(line: bytes, limit: int) -> bool:
    """Return whether `line` is within `limit` once its terminator is left out."""
    return len(line) - len(_terminator(line)) <= limit


def _terminator(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return b"\r\n"
    return b"\n" if line.endswith(b"\n") else b""


class _HeadThenRest:
    """A `readline` source that returns the already-read head first, then the stream."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = io.BytesIO(head)
        self._stream = stream
        self._in_head = bool(head)

    def readline(self, limit: int = -1, /) -> bytes:
        if not self._in_head:
            return self._stream.readline(limit)
        line = self._head.readline(limit)
        if line.endswith(b"\n") or (limit >= 0 and len(line) >= limit):
            return line
        # The head ended inside this line: finish it from the stream.
        self._in_head = False
        remaining = -1 if limit < 0 else limit - len(line)
        return line + self._stream.readline(remaining) if remaining != 0 else line
