"""Append-only histories: one create-only document per change, numbered per record.

Alerts, incidents and suppressions keep their decisions this way. The id of
entry `seq` of record `key` is `<key>-<seq:06d>`, so two writers that start
from the same version race for the same id and the engine accepts only one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from socwb.search import SearchBackend


def entry_id(key: str, seq: int) -> str:
    """Return the document id of entry number `seq` of record `key`."""
    return f"{key}-{seq:06d}"


def append_entry(
    backend: SearchBackend, index: str, key: str, seq: int, document: Mapping[str, Any]
) -> None:
    """Write one entry with create-only semantics and make it searchable at once.

    Raises:
        ConflictError: entry `seq` of `key` exists already, so another change won.
    """
    backend.index_document(
        index, document, doc_id=entry_id(key, seq), op_type="create", refresh=True
    )
