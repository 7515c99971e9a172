"""Safe XML in (defusedxml: no DTDs, no entities, no external references) and CDATA out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.wechat.errors import MalformedMessage

MAX_FIELDS = 64


def parse_root(body: bytes | str) -> Element:
    """The <xml> root of a safely parsed document; anything else is MalformedMessage."""
    if not body or not body.strip():
        raise MalformedMessage("empty body")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MalformedMessage(f"forbidden XML construct: {type(exc).__name__}") from exc
    except (ParseError, ValueError, UnicodeError) as exc:
        raise MalformedMessage(f"not well-formed XML: {exc}") from exc
    if root.tag != "xml":
        raise MalformedMessage(f"root element is <{root.tag}>, expected <xml>")
    if len(root) > MAX_FIELDS:
        raise MalformedMessage("too many fields")
    return root


def parse_fields(body: bytes | str) -> dict[str, str]:
    """Flat <xml><Name>value</Name>...</xml> into a dict; anything else is MalformedMessage."""
    return fields_of(parse_root(body))


def fields_of(root: Element) -> dict[str, str]:
    """The root's children as name -> text (a nested element: its text run, see `nested`)."""
    children = list(root)
    if len(children) > MAX_FIELDS:
        raise MalformedMessage("too many fields")
    fields: dict[str, str] = {}
    for child in children:
        if len(child):
            # nested elements (e.g. ScanCodeInfo) are kept as their concatenated text
            fields[child.tag] = "".join(child.itertext()).strip()
        else:
            fields[child.tag] = (child.text or "").strip() if child.tag != "Content" else child.text or ""
    return fields


def nested(element: Element) -> dict[str, str]:
    """A nested block's leaf children as name -> stripped text (ScanCodeInfo, SendLocationInfo)."""
    return {child.tag: (child.text or "").strip() for child in element if not len(child)}


# What XML 1.0 cannot carry at all, not even in CDATA: control characters (an agent's
# paste may hold a vertical tab), U+FFFE/U+FFFF and lone surrogates. Dropped, so a reply
# is always a document the platform can parse.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _cdata(text: str) -> str:
    return "<![CDATA[" + _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


Value = str | int | list[dict[str, str | int]]


def render_xml(fields: Mapping[str, Value]) -> str:
    """<xml> with integers bare and strings in CDATA, as the platform writes them; a list
    of mappings becomes a block of <List> items (the subscription-notice events)."""
    return "<xml>" + _render(fields) + "</xml>"


def _render(fields: Mapping[str, Value]) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, list):
            body = "".join(f"<List>{_render(item)}</List>" for item in value)
        else:
            body = str(value) if isinstance(value, int) else _cdata(value)
        parts.append(f"<{name}>{body}</{name}>")
    return "".join(parts)
