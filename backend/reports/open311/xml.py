"""The specification's XML: the same answers as the JSON, each list an element named for the
whole (``services``, ``service_requests``, ``errors``) holding one element per item
(``service``, ``request``, ``error``)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

# A list element inside an answer, and what each of its items is called.
_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, inner in value.items():
            _fill(ElementTree.SubElement(element, name), inner)
    elif isinstance(value, list):
        item = _ITEMS.get(element.tag, "item")
        for inner in value:
            _fill(ElementTree.SubElement(element, item), inner)
    else:
        element.text = _text(value)


def render(root: str, value: dict[str, Any] | list[Any], item: str | None = None) -> bytes:
    """``value`` under an element ``root``; a list's items are each an ``item``."""
    element = ElementTree.Element(root)
    if isinstance(value, list):
        for inner in value:
            _fill(ElementTree.SubElement(element, item or "item"), inner)
    else:
        _fill(element, value)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)
