"""Parsing of `key=value` and `key="value"` pairs, as written by firewalls and WAFs."""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

MISSING_VALUES = frozenset({"", "N/A", "n/a", "NA", "None", "none", "-"})
"""Placeholders that vendors write for an empty value."""

# Keys are anchored after the start or a separator, so a long run of word characters
# without `=` is scanned once and not once per position. A quoted value ends at the
# first quote that is not escaped as `\"` or doubled as `""`. A doubled quote before
# a separator or the end is read as an empty value (`a="",b="1"`), not as an escape.
_PAIR_TEMPLATE = (
    r"(?:^|(?<=[{separators}]))(?P<key>[A-Za-z_][\w.-]{{0,63}})="
    r'(?:"(?P<quoted>(?:[^"\\]|\\.|""(?![{separators}]|$))*)"|(?P<bare>[^{separators}"]*))'
)
_SPACE_PAIRS = re.compile(_PAIR_TEMPLATE.format(separators=r"\s"))
_COMMA_PAIRS = re.compile(_PAIR_TEMPLATE.format(separators=r",\s"))


def parse_key_values(text: str, *, comma_separated: bool = False) -> dict[str, str]:
    """Return the `key=value` pairs of `text`, unquoting quoted values.

    Args:
        text: The message part of a log line.
        comma_separated: Whether pairs are separated by commas (F5) instead of
            whitespace (FortiGate). Quoted values may contain either separator.

    Returns:
        Keys mapped to values, with the first occurrence of a repeated key kept.
    """
    pattern = _COMMA_PAIRS if comma_separated else _SPACE_PAIRS
    pairs: dict[str, str] = {}
    for match in pattern.finditer(text):
        quoted = match["quoted"]
        if quoted is None:
            value = match["bare"]
        else:
            value = quoted.replace('""', '"').replace('\\"', '"').replace("\\\\", "\\")
        pairs.setdefault(match["key"], value)
    return pairs


def value_of(pairs: dict[str, str], key: str) -> str | None:
    """Return the value of `key`, or None when it is missing or a placeholder such as N/A."""
    value = pairs.get(key)
    if value is None:
        return None
    value = value.strip()
    return None if value in MISSING_VALUES else value
