"""Format detection: pick the normalizer whose `sniff` accepts the head of an input."""

from __future__ import annotations

import logging

from socwb.ingest.formats._base import BaseNormalizer
from socwb.ingest.model import FormatDetectionError
from socwb.ingest.registry import all_normalizers, for_source

logger = logging.getLogger(__name__)

HEAD_CHARS = 64 * 1024
"""Characters of an input that detection looks at."""


def detect_format(head: str, source: str | None = None) -> BaseNormalizer:
    """Return the one normalizer that accepts `head`.

    Args:
        head: The first characters of the input (`HEAD_CHARS` is enough).
        source: Source type that limits the candidates (`cloud`, `idp`, ...), or None.

    Returns:
        The matching normalizer.

    Raises:
        FormatDetectionError: No format matches, or several do. The message names
            the candidates and the `--format NAME` option.
        ValueError: `source` is not a known source type.
    """
    candidates = for_source(source) if source is not None else list(all_normalizers())
    matches = [normalizer for normalizer in candidates if normalizer.sniff(head[:HEAD_CHARS])]
    if len(matches) == 1:
        logger.debug("detected format=%s source=%s", matches[0].name, source)
        return matches[0]
    scope = f" for source {source!r}" if source else ""
    if not matches:
        names = ", ".join(sorted(normalizer.name for normalizer in candidates))
        raise FormatDetectionError(
            f"unknown input format{scope}: no format matches the start of the input; "
            f"pass --format NAME with one of: {names}"
        )
    names = ", ".join(sorted(normalizer.name for normalizer in matches))
    raise FormatDetectionError(
        f"ambiguous input format{scope}: the start of the input matches {names}; "
        "pass --format NAME to choose one"
    )
