"""xmltodict.unparse for the SOAP envelopes pywinrm builds, byte for byte, at a tenth of the CPU.

pywinrm's Protocol builds every WS-Management message as a dict and serialises
it with `xmltodict.unparse`, which validates every element and attribute name
character by character and writes through a SAX generator: 0.11-0.16 ms per
message, six messages per node, a third of enforcer's CPU per node on a fleet
plan (bench/PROFILE.md). The dicts follow a small convention (`@` attributes,
`#text`, nested dicts, lists, None), which `unparse` here writes directly,
checking each distinct name once. Anything else (comments, namespace maps,
pretty printing, an output stream) goes to xmltodict itself.

`XmlToDict` stands in for the xmltodict module pywinrm's protocol module uses
(installed by pywinrm_compat.py: pywinrm offers no other way to choose its serialiser).
tests/test_envelope.py compares the output with xmltodict's for every message pywinrm
sends and for generated documents.
"""

from __future__ import annotations

import re
from typing import Any

import xmltodict

_HEADER = '<?xml version="1.0" encoding="utf-8"?>\n'
_NAME = re.compile(r"[^\s<>/\"'=?!][^\s<>/\"'=]*")  # what xmltodict's _validate_name accepts
_names: set[str] = set()
_attributes: dict[tuple[str, type, Any], str] = {}  # keyed by type too: True == 1, but they are written apart
_ATTRIBUTES_KEPT = 512


class _Unsupported(Exception):
    """The document uses a part of xmltodict's convention this writer leaves to xmltodict."""


def unparse(input_dict: dict[str, Any], output: Any = None, encoding: str = "utf-8", full_document: bool = True,
            **kwargs: Any) -> str:
    if output is not None or encoding != "utf-8" or not full_document or kwargs or len(input_dict) != 1:
        return xmltodict.unparse(input_dict, output=output, encoding=encoding, full_document=full_document, **kwargs)
    parts = [_HEADER]
    try:
        for key, value in input_dict.items():
            if isinstance(value, list):
                raise _Unsupported  # a list at the root is several roots: xmltodict's error to raise
            _element(key, value, parts)
    except _Unsupported:
        return xmltodict.unparse(input_dict)
    return "".join(parts)


class XmlToDict:
    """xmltodict as pywinrm's protocol module sees it, with this module's unparse."""

    unparse = staticmethod(unparse)

    def __getattr__(self, name: str) -> Any:
        return getattr(xmltodict, name)


def _element(name: Any, value: Any, parts: list[str]) -> None:
    if name not in _names:
        _check(name)
    for item in value if type(value) is list else (value,):
        if item is None:
            parts.append(f"<{name}></{name}>")
            continue
        if not isinstance(item, dict):  # most leaves are text: no dict to walk
            text = _text(item)  # raises _Unsupported for what is neither text nor a number
            parts.append(f"<{name}>{_escape(text)}</{name}>" if text else f"<{name}></{name}>")
            continue
        own_text: str | None = None
        attrs = ""
        children = []
        for key, child in item.items():
            if type(key) is not str or key == "#comment":
                raise _Unsupported
            if key.startswith("@"):
                attrs += _attribute(key, child)
            elif key == "#text":
                own_text = None if child is None else _text(child)
            elif not (type(child) is list and not child):
                children.append((key, child))
        parts.append(f"<{name}{attrs}>")
        for key, child in children:
            _element(key, child, parts)
        if own_text:
            parts.append(_escape(own_text))
        parts.append(f"</{name}>")


def _attribute(key: str, value: Any) -> str:
    """` name="value"`, from a cache: pywinrm's namespace and option attributes repeat in every message."""
    try:
        return _attributes[key, type(value), value]
    except KeyError:
        pass
    except TypeError:  # unhashable: a namespace map or a list, which xmltodict writes (or refuses) its own way
        raise _Unsupported from None
    if key[1:] not in _names:
        _check(key[1:])
    written = f" {key[1:]}={_quoted('' if value is None else _text(value))}"
    if len(_attributes) >= _ATTRIBUTES_KEPT:
        _attributes.clear()  # unique values (message ids) would otherwise grow it without end
    _attributes[key, type(value), value] = written
    return written


def _check(name: Any) -> None:
    """Validate a name not seen yet (callers test `_names` first: it is on the hot path) and remember it."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _Unsupported  # xmltodict raises its own ValueError for it
    _names.add(name)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, bytes):  # pywinrm's Send carries stdin as base64 bytes
        return value.decode("utf-8", "replace")
    raise _Unsupported


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _quoted(value: str) -> str:
    value = _escape(value).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', "&quot;") + '"'
