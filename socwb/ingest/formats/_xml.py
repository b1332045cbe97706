"""Safe XML parsing for scanner reports (no entities, DTDs or external references)."""

from __future__ import annotations

import logging
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree

from socwb.ingest.model import RecordError

logger = logging.getLogger(__name__)


def parse_xml(text: str) -> Element:
    """Parse an XML document with defusedxml.

    Raises:
        RecordError: The document is not well-formed or uses forbidden constructs
            (entity declarations, DTDs, external references).
    """
    try:
        return defusedxml.ElementTree.fromstring(text)
    except ParseError as exc:
        raise RecordError(f"invalid XML: {exc}") from exc
    except defusedxml.DefusedXmlException as exc:
        raise RecordError(f"rejected XML: {exc}") from exc


def child_text(element: Element | None, tag: str) -> str | None:
    """Return the stripped text of the first `tag` child, or None when empty."""
    if element is None:
        return None
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None
