"""Rule leases: which detector service instance runs each rule, so several can serve at once.

Each rule has one lease document in `socwb-leases-<namespace>` that names its
holder and when the lease expires. An instance takes or renews the lease before
each run of the rule. A new lease is written with `op_type=create` and an
existing one with `if_seq_no` and `if_primary_term`, so when two instances try
at the same moment the engine accepts exactly one write, and the other instance
skips the rule. The holder renews at every run. A lease that is not renewed,
because its holder died or hangs, expires after `intervals` rule intervals, and
then the first instance to try takes it over. A service that stops cleanly
releases its leases, so another instance takes them at its next turn.

The checkpoint's own optimistic concurrency (`socwb.checkpoints`) still guards
each run. A lease only keeps the instances from doing the same work twice.
NOTE: lease times come from each instance's clock, so clock skew between hosts
shortens or lengthens a lease by the skew.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from socwb.alerts.store import create_index
from socwb.errors import ConflictError, SearchError
from socwb.rules.model import iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

DEFAULT_INTERVALS = 3
"""Rule intervals without renewal after which a lease expires."""

LEASES_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "rule_id": {"type": "keyword"},
        "holder": {"type": "keyword"},
        "acquired_at": {"type": "date"},
        "renewed_at": {"type": "date"},
        "expires_at": {"type": "date"},
    },
}


class Lease(BaseModel):
    """The lease on one rule, as stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime

    def to_document(self) -> dict[str, Any]:
        """Return the document with ISO 8601 UTC times."""
        return {
            "rule_id": self.rule_id,
            "holder": self.holder,
            "acquired_at": iso(self.acquired_at),
            "renewed_at": iso(self.renewed_at),
            "expires_at": iso(self.expires_at),
        }


def default_holder() -> str:
    """Return an id for this process: host name, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RuleLeases:
    """Takes, renews and releases the rule leases of one service instance.

    Args:
        backend: The engine.
        namespace: Namespace of the detector's indices.
        clock: Current aware UTC time, for lease expiry.
        holder: This instance's id in the lease documents. None generates one per process.
        intervals: Rule intervals without renewal after which a lease expires.
    """

    def __init__(
        self,
        backend: SearchBackend,
        namespace: str,
        *,
        clock: Callable[[], datetime],
        holder: str | None = None,
        intervals: int = DEFAULT_INTERVALS,
    ) -> None:
        if intervals < 2:
            raise ValueError(
                f"a lease must last at least 2 rule intervals, got intervals={intervals}, "
                "because the holder renews it only once per interval"
            )
        self.backend = backend
        self.index = f"socwb-leases-{namespace}"
        self.clock = clock
        self.holder = holder or default_holder()
        self.intervals = intervals
        self.held: set[str] = set()

    def ensure_index(self) -> None:
        """Create the leases index with its mapping when it does not exist."""
        create_index(self.backend, self.index, LEASES_MAPPING)

    def hold(self, rule_id: str, interval: timedelta) -> bool:
        """Take or renew the lease on a rule, and return whether this instance may run it now.

        Returns False without raising when another instance holds an unexpired
        lease or won the write, or when the engine failed. The caller tries
        again at the rule's next interval.
        """
        now = self.clock()
        try:
            found = self.backend.get_document(self.index, rule_id)
            current = _stored_lease(found)
            if current is not None and current.holder != self.holder and current.expires_at > now:
                self._lose(rule_id, current.holder)
                return False
            lease = self._next_lease(rule_id, current, now, interval)
            self._write(lease, found if current is not None else None)
        except ConflictError:
            self._lose(rule_id, "another instance")
            return False
        except SearchError as exc:
            logger.error(
                "lease update failed rule=%s holder=%s error=%s, retrying at the next interval",
                rule_id,
                self.holder,
                exc,
            )
            return False
        if rule_id not in self.held:
            logger.info(
                "lease taken rule=%s holder=%s previous_holder=%s expires_at=%s",
                rule_id,
                self.holder,
                current.holder if current is not None else "-",
                iso(lease.expires_at),
            )
            self.held.add(rule_id)
        return True

    def release_all(self) -> None:
        """Let every lease this instance holds expire now, so another instance takes it."""
        for rule_id in sorted(self.held):
            self._release(rule_id)
        self.held.clear()

    def _release(self, rule_id: str) -> None:
        try:
            found = self.backend.get_document(self.index, rule_id)
            current = _stored_lease(found)
            if current is None or current.holder != self.holder:
                self._lose(rule_id, current.holder if current is not None else "-")
                return
            released = current.model_copy(update={"expires_at": self.clock()})
            self._write(released, found)
        except (ConflictError, SearchError) as exc:
            logger.error(
                "lease release failed rule=%s holder=%s error=%s, so it lasts until its expiry",
                rule_id,
                self.holder,
                exc,
            )
            return
        logger.info("lease released rule=%s holder=%s", rule_id, self.holder)

    def _next_lease(
        self, rule_id: str, current: Lease | None, now: datetime, interval: timedelta
    ) -> Lease:
        is_renewal = current is not None and current.holder == self.holder
        return Lease(
            rule_id=rule_id,
            holder=self.holder,
            acquired_at=current.acquired_at if current is not None and is_renewal else now,
            renewed_at=now,
            expires_at=now + self.intervals * interval,
        )

    def _write(self, lease: Lease, found: dict[str, Any] | None) -> None:
        """Create the lease, or replace the version read as `found`.

        Raises:
            ConflictError: Another instance wrote the lease after it was read.
        """
        path = f"/{quote(self.index)}/_doc/{quote(lease.rule_id)}"
        params: dict[str, Any] = {"refresh": "true"}
        if found is None:
            params["op_type"] = "create"
        else:
            params["if_seq_no"] = found["_seq_no"]
            params["if_primary_term"] = found["_primary_term"]
        self.backend.request("PUT", path, params=params, body=lease.to_document())

    def _lose(self, rule_id: str, other: str) -> None:
        if rule_id in self.held:
            self.held.discard(rule_id)
            logger.warning(
                "lease lost rule=%s holder=%s new_holder=%s", rule_id, self.holder, other
            )


def _stored_lease(found: dict[str, Any] | None) -> Lease | None:
    if found is None or not found.get("found", True):
        return None
    return Lease.model_validate(found["_source"])
