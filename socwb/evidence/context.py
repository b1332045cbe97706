"""The inputs of every evidence pack section: the engine, the period and the options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from socwb.catalogue import Catalogue
from socwb.period import Period
from socwb.search import SearchBackend

DEFAULT_SAMPLE_SIZE = 25


@dataclass(frozen=True)
class PackContext:
    """Inputs of one evidence pack.

    Attributes:
        as_of: Time the pack is built (aware UTC); later history entries are ignored.
        sample_size: Maximum number of alerts in the random sample.
        seed: Seed of the sample; the same seed over the same alerts gives the same sample.
    """

    backend: SearchBackend
    namespace: str
    catalogue: Catalogue
    period: Period
    as_of: datetime
    sample_size: int = DEFAULT_SAMPLE_SIZE
    seed: int = 0
