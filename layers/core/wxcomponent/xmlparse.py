"""Safe XML for WeChat's flat `<xml>…</xml>` documents: defusedxml only, no DOCTYPE, no entities."""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from wxcomponent.errors import MalformedMessage


def parse_flat_xml(document: bytes | str) -> dict[str, str]:
    """Maps each child element of the root to its text ("" when empty); nested elements are kept
    as their text only, which is all WeChat's push documents need."""
    if not document:
        raise MalformedMessage("empty XML document")
    try:
        root = fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedMessage("not an acceptable XML document") from exc
    return {child.tag: (child.text or "").strip() for child in root}
