"""Input reading: path expansion, gzip, standard input as a stream, bounded line length."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from socwb.ingest.reader import (
    HEAD_BYTES,
    STDIN_LABEL,
    InputError,
    LineReader,
    expand_paths,
    open_binary,
)


class _NonSeekablePipe(io.RawIOBase):
    """A raw stream that cannot seek, like a pipe on standard input."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._data.read(min(len(buffer), 4096))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _RecordingStream(io.BytesIO):
    """A stream that records the size of every `readline` result."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.line_sizes: list[int] = []

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        line = super().readline(size)
        self.line_sizes.append(len(line))
        return line


def _lines(data: bytes, **options: int | None) -> tuple[list[bytes], LineReader]:
    reader = LineReader(io.BytesIO(data), **options)  # type: ignore[arg-type]
    return list(reader.lines()), reader


def test_expand_paths_file_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "auth.log").write_text("x\n")
    monkeypatch.chdir(tmp_path)

    inputs = expand_paths(["auth.log"])

    assert [item.label for item in inputs] == [str(tmp_path / "auth.log")]
    assert inputs[0].path == Path("auth.log")


def test_expand_paths_folder_recursive_sorted(tmp_path: Path) -> None:
    for relative in ("b.log", "a/z.log", "a/c.log.gz", ".hidden/x.log", "a/.swap"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")

    inputs = expand_paths([str(tmp_path)])

    names = [Path(item.label).relative_to(tmp_path).as_posix() for item in inputs]
    assert names == ["a/c.log.gz", "a/z.log", "b.log"]


def test_expand_paths_keeps_argument_order(tmp_path: Path) -> None:
    (tmp_path / "b.log").write_text("x\n")
    (tmp_path / "a.log").write_text("x\n")

    inputs = expand_paths([str(tmp_path / "b.log"), "-", str(tmp_path / "a.log")])

    assert [Path(item.label).name for item in inputs] == ["b.log", STDIN_LABEL, "a.log"]
    assert inputs[1].is_stdin


def test_expand_paths_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.log' is not found"):
        expand_paths([str(tmp_path / "missing.log")])


def test_expand_paths_stdin_twice_raises() -> None:
    with pytest.raises(InputError, match="only once"):
        expand_paths(["-", "-"])


def test_expand_paths_empty_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="contains no files"):
        expand_paths([str(tmp_path)])


def test_open_binary_plain_stream_unchanged() -> None:
    stream = io.BytesIO(b"line one\n")

    opened = open_binary(stream)

    assert opened.read() == b"line one\n"


def test_open_binary_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.log.gz"
    path.write_bytes(gzip.compress(b"first\nsecond\n"))

    with path.open("rb") as raw:
        lines = list(LineReader(open_binary(raw)).lines())

    assert lines == [b"first\n", b"second\n"]


def test_open_binary_gzip_without_suffix_detected_by_magic(tmp_path: Path) -> None:
    path = tmp_path / "rotated.1"
    path.write_bytes(gzip.compress(b"payload\n"))

    with path.open("rb") as raw:
        assert open_binary(raw).read() == b"payload\n"


def test_open_binary_gzip_pipe_stdin() -> None:
    stdin = io.BufferedReader(_NonSeekablePipe(gzip.compress(b"a\nb\n" * 1000)))

    lines = list(LineReader(open_binary(stdin)).lines())

    assert len(lines) == 2000
    assert lines[:2] == [b"a\n", b"b\n"]


def test_open_binary_plain_pipe_stdin_not_consumed() -> None:
    stdin = io.BufferedReader(_NonSeekablePipe(b"Dec 10 06:55:46 host sshd[1]: x\n"))

    opened = open_binary(stdin)

    assert opened.read() == b"Dec 10 06:55:46 host sshd[1]: x\n"


def test_line_reader_head_then_lines_across_boundary() -> None:
    # The 3rd line straddles the end of the detection head.
    long_line = b"y" * HEAD_BYTES + b"\n"
    data = b"first\nsecond\n" + long_line + b"last"

    reader = LineReader(io.BytesIO(data), max_line_bytes=None)
    head = reader.head_text()
    lines = list(reader.lines())

    assert head.startswith("first\nsecond\n")
    assert len(head) == HEAD_BYTES
    assert lines == [b"first\n", b"second\n", long_line, b"last"]
    assert reader.lines_read == 4


def test_line_reader_empty_input() -> None:
    lines, reader = _lines(b"")

    assert lines == []
    assert reader.head_text() == ""


def test_line_reader_oversized_line_replaced_and_queued() -> None:
    data = b"ok 1\n" + b"z" * 5000 + b"\nok 3\r\n"

    lines, reader = _lines(data, max_line_bytes=100)

    assert lines == [b"ok 1\n", b"\n", b"ok 3\r\n"]
    assert len(reader.oversized) == 1
    skipped = reader.oversized[0]
    assert skipped.line_number == 2
    assert skipped.length == 5000
    assert skipped.head == b"z" * 100


def test_line_reader_line_at_limit_kept() -> None:
    data = b"a" * 100 + b"\r\n" + b"b" * 101

    lines, reader = _lines(data, max_line_bytes=100)

    assert lines == [b"a" * 100 + b"\r\n", b"\n"]
    assert reader.oversized[0].length == 101
    assert reader.oversized[0].line_number == 2


def test_line_reader_reads_bounded_chunks() -> None:
    limit = 1024
    stream = _RecordingStream(b"head\n" * 10 + b"x" * 5_000_000 + b"\nend\n")
    reader = LineReader(stream, max_line_bytes=limit)

    lines = list(reader.lines())

    assert lines[-2:] == [b"\n", b"end\n"]
    assert reader.oversized[0].length == 5_000_000
    # Only the head read is larger; every line read stays within the limit.
    assert max(stream.line_sizes) <= limit + 2


def test_line_reader_lines_only_once() -> None:
    reader = LineReader(io.BytesIO(b"a\n"))
    list(reader.lines())

    with pytest.raises(RuntimeError, match="only once"):
        list(reader.lines())
