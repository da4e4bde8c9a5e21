"""Reading user YAML so that every later message can say file:line.

Mappings come back as `Located` dicts that remember where each key stood;
duplicate keys, binary files, oversized files and YAML syntax errors become
InputError with the position, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

MAX_BYTES = 4 * 1024 * 1024  # a playbook or inventory larger than this is a mistake, not a cluster
# Aliases let a small file stand for a huge tree (a "billion laughs": 9 levels of 10 aliases, 10^9 strings),
# and everything after loading walks the tree whole. A 200-cluster inventory is about 10,000 values.
MAX_VALUES = 200_000
MAX_DEPTH = 64  # a playbook nests ~8 levels; deeper is an accident or an attack, and recursion has limits


class Located(dict):
    """A mapping that knows the file and line of itself and of each key."""

    source: str = "?"
    line: int = 0
    key_lines: dict[str | int | float, int]  # keys are strings, or numbers and booleans (an int)

    def where(self, key: str | None = None) -> str:
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return f"{self.source}:{line}"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader on libyaml when it is there (a 200-cluster inventory: 0.2 s in pure Python)."""

    source = "?"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Located:  # type: ignore[override]
        self.flatten_mapping(node)
        result = Located()
        result.source, result.line, result.key_lines = self.source, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise InputError("mapping keys must be plain strings", f"{self.source}:{key_node.start_mark.line + 1}")
            if key in result:
                raise InputError(f"duplicate key {key!r} (first at line {result.key_lines[key]})",
                                 f"{self.source}:{key_node.start_mark.line + 1}")
            result[key] = self.construct_object(value_node, deep=deep)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


def load_yaml(path: str | Path, what: str) -> Any:
    """Parse one YAML document; `what` names it in messages ('playbook', 'inventory')."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise InputError(f"{what} {path} is not a file")
        if size > MAX_BYTES:
            raise InputError(f"{what} is {size:,} bytes; expected a YAML file under {MAX_BYTES:,} bytes", f"{path}:1")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise InputError(f"{what} {path} cannot be read (permission denied)") from None
    return parse_yaml(raw, str(path), what)


def parse_yaml(raw: bytes, source: str, what: str) -> Any:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(f"{what} is UTF-16 text; expected UTF-8 (save it as UTF-8)", f"{source}:1")
    if b"\x00" in raw:
        raise InputError(f"{what} is a binary file; expected YAML text", f"{source}:1")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"{what} is not UTF-8 text", f"{source}:{line}") from None
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise _control_character(exc, text, what, source) from None
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(node, source, what)
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        raise _control_character(exc, text, what, source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(filter(None, [exc.problem, exc.context])) or "invalid YAML"
        raise InputError(f"YAML syntax error: {problem}", f"{source}:{line}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", f"{source}:1") from None
    except RecursionError:
        raise InputError(f"{what} nests too deeply", f"{source}:1") from None
    finally:
        loader.dispose()
    if data is None:
        raise InputError(f"{what} is empty", f"{source}:1")
    return data


def _check_size(root: yaml.Node, source: str, what: str) -> None:
    """Refuse a document deeper than MAX_DEPTH, or one its aliases expand past MAX_VALUES, before it is built.

    Each node is counted once however many aliases name it (a memo by identity), so the count of a billion
    laughs costs what its text does.
    """
    expanded: dict[int, int] = {}

    def count(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise InputError(f"{what} nests deeper than {MAX_DEPTH} levels", f"{source}:{node.start_mark.line + 1}")
        known = expanded.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        total = 1 + sum(count(child, depth + 1) for child in children)
        if total > MAX_VALUES:
            raise InputError(f"{what} expands to more than {MAX_VALUES:,} values through its aliases (&anchor / "
                             f"*alias); expected a file that says what it means",
                             f"{source}:{node.start_mark.line + 1}")
        expanded[id(node)] = total
        return total

    count(root, 0)


def _control_character(exc: yaml.reader.ReaderError, text: str, what: str, source: str) -> InputError:
    line = text[:exc.position].count("\n") + 1
    return InputError(f"{what} has a control character (#x{exc.character:04x}) YAML does not allow", f"{source}:{line}")


def kind_of(value: Any) -> str:
    """What a value is, in the words of a message about YAML ("got a mapping"), not Python's type names."""
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "nothing"
    for kind, words in ((dict, "a mapping"), (list, "a list"), (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kind):
            return words
    return type(value).__name__


def where(value: Any, fallback: str, key: str | None = None) -> str:
    """file:line of `value` (or of `key` inside it) when it is Located, else `fallback`."""
    return value.where(key) if isinstance(value, Located) else fallback
