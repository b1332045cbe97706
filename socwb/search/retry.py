"""Capped exponential backoff for calls to the search engine."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before giving up on a failing call.

    Attributes:
        max_retries: retries after the first attempt; 0 disables retrying.
        initial_delay: first delay in seconds; each later delay doubles.
        max_delay: upper bound of a single delay in seconds.
        jitter: share of each delay that is randomised (0 to 1), so that many
            clients that failed together do not retry together.
    """

    max_retries: int = 5
    initial_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.2

    def delays(self) -> Iterator[float]:
        """Yield the delay before each retry, in seconds."""
        for attempt in range(self.max_retries):
            base = min(self.max_delay, self.initial_delay * (2**attempt))
            spread = base * self.jitter
            yield base - spread * random.random()


class RetriesExhaustedError(Exception):
    """Raised by ``call_with_retry`` when the last retry failed too."""

    def __init__(self, attempts: int, last_error: Exception) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last_error}")
        self.attempts = attempts
        self.last_error = last_error


def call_with_retry(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    is_retryable: Callable[[Exception], bool],
    description: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation``, retrying retryable errors with capped exponential backoff.

    Args:
        operation: the call to make; it is repeated unchanged.
        policy: number of retries and delays.
        is_retryable: returns True for exceptions worth another attempt.
            Any other exception propagates at once.
        description: names the call in log lines, e.g. ``GET /_cluster/health``.
        sleep: waits between attempts; tests pass a recorder.

    Raises:
        RetriesExhaustedError: every attempt failed with a retryable error.
    """
    delays = policy.delays()
    attempt = 1
    while True:
        try:
            return operation()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise RetriesExhaustedError(attempt, exc) from exc
            logger.warning(
                "retrying request=%r attempt=%d max_attempts=%d delay_s=%.2f error=%s",
                description,
                attempt,
                policy.max_retries + 1,
                delay,
                exc,
            )
            sleep(delay)
            attempt += 1
