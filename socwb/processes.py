"""Facts about local processes from /proc, for the node and the demo's background services."""

from __future__ import annotations

import os
from pathlib import Path


def is_alive(pid: int) -> bool:
    """Return whether ``pid`` runs; a zombie waiting to be reaped counts as ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_state(pid) not in ("Z", "X")


def process_state(pid: int) -> str:
    """Return the one-letter state from /proc/<pid>/stat, or "" when unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.rsplit(")", 1)[-1].split()[0]


def command_line(pid: int) -> str:
    """Return the process's command line with spaces between arguments, or ""."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
