"""Bounded template evaluation: no expression may hang enforcer or exhaust its memory.

Jinja's sandbox stops attribute escapes at run time, but `9 ** 9 ** 9`, `'x' *
10 ** 10` or `range(10 ** 12)` would still compute for minutes or take all
memory. So each template is checked when the playbook is validated (before
any node is contacted): constant arithmetic is evaluated here within bounds,
and private attributes, `range` past the sandbox's limit and `import` /
`include` are refused. At run time the same bounds hold for values that come
from variables (`BoundedSandbox`).
"""

from __future__ import annotations

import math
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import MAX_RANGE, SandboxedEnvironment

MAX_INT_BITS = 4096  # a 1,233-digit number: far past any timeout, port or count a playbook holds
MAX_LENGTH = 1_000_000  # characters or items a `*` may build
_UNKNOWN = object()  # not a constant: its value is known only at run time


class BoundsError(Exception):
    """An expression past the bounds; the caller says where."""


def bounded_binop(operator: str, left: Any, right: Any) -> Any:
    """`left ** right` or `left * right`, refused when the result would be past the bounds."""
    if operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1 \
                and right * math.log2(abs(left)) > MAX_INT_BITS:
            raise BoundsError(f"{left} ** {right} has more than {MAX_INT_BITS} bits")
        return left ** right
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and _is_int(times) and len(seq) * times > MAX_LENGTH:
                raise BoundsError(f"repeating {len(seq)} item(s) {times} times makes more than {MAX_LENGTH:,}")
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise BoundsError(f"the product has more than {MAX_INT_BITS} bits")
        return left * right
    raise AssertionError(operator)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with `**` and `*` bounded, and no constant folding at compile time (folding `'x' * 10 ** 10`
    is itself the hang)."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        try:
            return bounded_binop(operator, left, right)
        except BoundsError as exc:
            raise OverflowError(str(exc)) from None


def check(tree: nodes.Template) -> None:
    """BoundsError for the first thing in a parsed template that validation refuses."""
    for statement in tree.find_all((nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)):
        raise BoundsError(f"{type(statement).__name__.lower()} is not supported in a playbook's templates")
    for attribute in tree.find_all(nodes.Getattr):
        if attribute.attr.startswith("_"):
            raise BoundsError(f"the attribute {attribute.attr!r} is private: templates may not read it")
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str) and item.arg.value.startswith("_"):
            raise BoundsError(f"the attribute {item.arg.value!r} is private: templates may not read it")
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "range":
            values = [_constant(arg) for arg in call.args]
            if values and all(_is_int(v) for v in values):
                start, stop = (0, values[0]) if len(values) == 1 else (values[0], values[1])
                if stop - start > MAX_RANGE:
                    raise BoundsError(f"range() of {stop - start:,} items; at most {MAX_RANGE:,}")
    for arithmetic in tree.find_all((nodes.Pow, nodes.Mul)):
        _constant(arithmetic)


def _constant(node: nodes.Node) -> Any:
    """The value of a constant expression, computed within bounds; _UNKNOWN when it reads anything else."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg):
        value = _constant(node.node)
        return -value if _is_int(value) or isinstance(value, float) else _UNKNOWN
    if isinstance(node, (nodes.Pow, nodes.Mul)):
        left, right = _constant(node.left), _constant(node.right)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        try:
            return bounded_binop("**" if isinstance(node, nodes.Pow) else "*", left, right)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return _UNKNOWN  # a type error the run reports as it would anyway
    return _UNKNOWN
