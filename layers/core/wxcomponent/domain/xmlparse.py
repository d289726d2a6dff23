"""Safe XML for WeChat's `<xml>…</xml>` documents: defusedxml only, no DOCTYPE, no entities."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from wxcomponent.domain.errors import MalformedMessage


def parse_flat_xml(document: bytes | str) -> dict[str, str]:
    """Maps each child element of the root to its text ("" when empty); nested elements are kept
    as their text only, which is all WeChat's push documents need."""
    root = _root(document)
    return {child.tag: (child.text or "").strip() for child in root}


MAX_DEPTH = 8  # WeChat's messages nest two or three levels; deeper is not WeChat

XmlValue = str | dict[str, "XmlValue"] | list["XmlValue"]


def parse_xml_tree(document: bytes | str) -> dict[str, XmlValue]:
    """The root's children as a tree: a leaf is its text (kept exactly, not stripped), an element
    with children a dict by tag, a tag seen twice a list, and an element whose children are all
    `<item>` a list (WeChat's way of writing lists: PicList, Articles)."""
    root = _root(document)
    tree = _children(root, 1)
    if not isinstance(tree, dict):
        raise MalformedMessage("the document holds no fields")
    return tree


def _children(element: Element, depth: int) -> XmlValue:
    if depth > MAX_DEPTH:
        raise MalformedMessage("XML nested too deeply")
    children = list(element)
    if not children:
        return element.text or ""
    if all(child.tag == "item" for child in children):
        return [_children(child, depth + 1) for child in children]
    grouped: dict[str, list[XmlValue]] = {}
    for child in children:
        grouped.setdefault(child.tag, []).append(_children(child, depth + 1))
    return {tag: values[0] if len(values) == 1 else values for tag, values in grouped.items()}


def _root(document: bytes | str) -> Element:
    """The parsed root, or `MalformedMessage` for anything but plain XML (DOCTYPE, entities, junk)."""
    if not document:
        raise MalformedMessage("empty XML document")
    try:
        root: Element = fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedMessage("not an acceptable XML document") from exc
    return root
