"""Jinja2 as Ansible users know it: sandboxed, strict, lazy, native when whole.

- StrictUndefined: a misspelt variable is an error naming it, not an empty string.
- Variables are rendered when first read, so `vars:` may refer to facts and to
  each other in any order.
- A value that is one `{{ expression }}` keeps its type (a list stays a list,
  `true` stays a bool), as Ansible's native mode does.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes

from . import template_bounds
from .errors import InputError
from .template_bounds import BoundedSandbox

_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)


class TemplateError(InputError):
    """A template that does not render: its location and Jinja's reason."""


# Environment variables a connection password is read from. A template may not read them: once a filter has
# turned a secret into something else (b64encode, reverse, a slice), no redaction can recognise it in a plan,
# a report or the history. Only the inventory's own password variables read them (reading_secrets).
_SECRET_ENV: set[str] = set()
_READING_SECRETS = contextvars.ContextVar("reading_secrets", default=False)


def protect_env(names: set[str]) -> None:
    _SECRET_ENV.update(names)


@contextlib.contextmanager
def reading_secrets() -> Iterator[None]:
    """The inventory renders a connection password: the variables it names may be read here, and only here."""
    token = _READING_SECRETS.set(True)
    try:
        yield
    finally:
        _READING_SECRETS.reset(token)


def _lookup(kind: str, *names: str) -> str:
    if kind != "env":
        raise jinja2.TemplateRuntimeError(f"lookup({kind!r}) is not supported; only lookup('env', NAME)")
    secret = [n for n in names if n in _SECRET_ENV]
    if secret and not _READING_SECRETS.get():
        raise jinja2.TemplateRuntimeError(
            f"lookup('env', {secret[0]!r}) reads the variable a connection password comes from: templates may not "
            f"read secrets (transformed by a filter, no redaction could hide them in plans, reports or history)")
    return ",".join(os.environ.get(n, "") for n in names)


def _mandatory(value: Any, message: str | None = None) -> Any:
    """Ansible's `mandatory`: an undefined value is an error naming it (or saying `message`)."""
    if isinstance(value, jinja2.Undefined):
        raise jinja2.UndefinedError(message or f"mandatory variable {value._undefined_name!r} is not defined")
    return value


def _dict2items(value: Mapping) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in value.items()]


def _registry_value(facts: Mapping, path: str, name: str) -> Any:
    """A registry value's data from a node's facts, or None when the key or value is absent."""
    key = (facts.get("registry") or {}).get(path) or {}
    return ((key.get("values") or {}).get(name) or {}).get("data")


def _registry_value_differs(facts: Mapping, paths: list[str], name: str, expected: Any) -> bool:
    """True when one of `paths` exists on the node with value `name` other than `expected`."""
    registry = facts.get("registry") or {}
    return any((registry.get(p) or {}).get("exists") and _registry_value(facts, p, name) != expected for p in paths)


def _event_logged(facts: Mapping, event_id: int, text: str | list[str] = "") -> bool:
    """True when the node's gathered events hold event `event_id` whose message contains `text` (or one of them)."""
    texts = [text] if isinstance(text, str) else list(text)
    return any(e.get("id") == event_id and any(t in (e.get("message") or "") for t in texts)
               for e in facts.get("events") or [])


def _resources_of_type(groups: Mapping, kind: str) -> list[dict[str, Any]]:
    """Every cluster resource of type `kind`, with its group: `cluster.groups | resources_of_type('...')`.

    Roles are found by what they hold, not by name: a DTC role is named after its client access point.
    """
    return [{"group": name, "name": r.get("name"), "type": r.get("type"), "state": r.get("state")}
            for name, group in groups.items() for r in group.get("resources") or [] if r.get("type") == kind]


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "1", "on", "y")
    return bool(value)


def _environment() -> BoundedSandbox:
    env = BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                         optimized=False)
    env.globals["lookup"] = _lookup
    env.filters["mandatory"] = _mandatory
    env.filters.update({"dict2items": _dict2items, "bool": _to_bool, "to_json": json.dumps,
                        "registry_value": _registry_value, "resources_of_type": _resources_of_type})
    env.tests["registry_value_differs"] = _registry_value_differs
    env.tests["event_logged"] = _event_logged
    return env


ENV = _environment()


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class Data(dict):
    """A layer of values that are data, never templates: facts and results read from the nodes.

    Ansible keeps such values "unsafe" for the same two reasons. A node's answer
    holding `{{ lookup('env', 'ENFORCER_PASSWORD') }}` (a registry value, a
    group name) must stay text, not run with the operator's environment. And
    walking every node's facts for templates on each read was a fifth of a
    fleet plan's CPU (bench/PROFILE.md).
    """


class Scope(Mapping):
    """Variables for templates: later layers win; templated values render lazily, once; `Data` layers never.

    A child scope (a loop's `item`) shares its parent's cache for every value
    that did not read the child's own layers, so a play variable is rendered
    once per node, not once per task and item.
    """

    def __init__(self, *layers: Mapping[str, Any], where: str = "?", cache: dict[str, Any] | None = None) -> None:
        """`cache` may be shared by scopes over the same layers, e.g. one node's tasks until a result is registered."""
        self._layers = layers if layers and layers[0] is ENV.globals else (ENV.globals, *layers)
        self._where = where
        self._cache: dict[str, Any] = {} if cache is None else cache  # values that read no layer of _own
        self._own: tuple[Mapping[str, Any], ...] = ()  # a child's own layers
        self._own_cache: dict[str, Any] = {}  # values that read them
        self._read_own = False
        self._rendering: set[str] = set()

    def child(self, *layers: Mapping[str, Any], where: str | None = None) -> Scope:
        scope = Scope(*self._layers, *layers, where=where or self._where, cache=self._cache)
        scope._own = (*self._own, *layers)
        return scope

    def _layer(self, key: str) -> Mapping[str, Any]:
        for layer in reversed(self._layers):
            if key in layer:
                return layer
        raise KeyError(key)

    def __getitem__(self, key: str) -> Any:
        if key in self._own_cache:
            self._read_own = True
            return self._own_cache[key]
        layer = self._layer(key)
        own = any(layer is mine for mine in self._own)
        if not own and key in self._cache:
            return self._cache[key]
        self._read_own = self._read_own or own
        raw = layer[key]
        if isinstance(layer, Data):
            return raw
        if key in self._rendering:
            raise TemplateError(f"variable {key!r} refers to itself", self._where)
        self._rendering.add(key)
        outer, self._read_own = self._read_own, False
        try:
            value = render(raw, self, self._where)
        finally:
            self._rendering.discard(key)
            read_own, self._read_own = self._read_own, outer or self._read_own
        (self._own_cache if read_own or own else self._cache)[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return any(key in layer for layer in self._layers)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for layer in self._layers:
            for key in layer:
                if key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


@lru_cache(maxsize=4096)
def _compiled(source: str) -> jinja2.Template:
    """Jinja compiles on every from_string; a plan renders the same few templates for every node."""
    return ENV.from_string(source)


def _new_context(template: jinja2.Template, scope: Scope) -> jinja2.runtime.Context:
    """A context whose variables are the scope itself (shared=True: not copied), so values render on read."""
    # Jinja annotates `vars` as a dict, but a shared context only reads it as a mapping.
    return template.new_context(scope, shared=True)  # type: ignore[arg-type]


def _run(source: str, scope: Scope, where: str, native: bool) -> Any:
    try:
        if native:
            template = _compiled("{% set __result = (" + source + ") %}")
            context = _new_context(template, scope)
            for _ in template.root_render_func(context):
                pass
            return _defined(context.vars["__result"])
        template = _compiled(source)
        return "".join(template.root_render_func(_new_context(template, scope)))
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"undefined variable: {exc.message}", where) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", where) from None
    except TemplateError:
        raise
    except InputError:
        raise
    except Exception as exc:  # a filter or test failing on the data it was given
        raise TemplateError(f"template error: {type(exc).__name__}: {exc}", where) from None


def _defined(value: Any) -> Any:
    """Assigning an undefined name does not fail in Jinja; using the value must."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, (list, tuple)):
        for item in value:
            _defined(item)
    elif isinstance(value, dict):
        for item in value.values():
            _defined(item)
    return value


def render(value: Any, scope: Scope, where: str) -> Any:
    """Render strings inside `value` (recursively through lists and dicts)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        whole = _WHOLE_EXPRESSION.match(value)
        return _run(whole.group("expr"), scope, where, native=True) if whole else _run(value, scope, where, False)
    if isinstance(value, list):
        return [render(v, scope, where) for v in value]
    if isinstance(value, dict):
        return {k: render(v, scope, where) for k, v in value.items()}
    return value


def bare_expression(text: str) -> str:
    """`{{ x }}` -> `x`; an expression already bare is itself (when: takes both forms, as Ansible does)."""
    whole = _WHOLE_EXPRESSION.match(text)
    return whole.group("expr").strip() if whole else text


def evaluate(expression: str | bool, scope: Scope, where: str) -> Any:
    """A bare expression, as `when:` and `that:` hold them."""
    if isinstance(expression, bool):
        return expression
    whole = _WHOLE_EXPRESSION.match(str(expression))
    return _run(whole.group("expr") if whole else str(expression), scope, where, native=True)


_GUARDS = {"default", "d", "mandatory"}  # filters that take an undefined value (mandatory: to name it at run time)


def _guarded(tree: jinja2.nodes.Template) -> set[str]:
    """Names a template reads only where being undefined is allowed: `x | default(...)`, `x is defined`,
    `x is undefined`, `x | mandatory` (Ansible's idioms). They are checked when the template runs instead."""
    names = {node.node.name for node in tree.find_all(jinja2.nodes.Filter)
             if node.name in _GUARDS and isinstance(node.node, jinja2.nodes.Name)}
    return names | {node.node.name for node in tree.find_all(jinja2.nodes.Test)
                    if node.name in ("defined", "undefined") and isinstance(node.node, jinja2.nodes.Name)}


def undeclared(value: Any, where: str, expression: bool = False) -> set[str]:
    """Names a template (or a bare expression) reads; raises TemplateError on syntax errors."""
    if isinstance(value, list):
        return set().union(*(undeclared(v, where, expression) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(undeclared(v, where, expression) for v in value.values())) if value else set()
    if isinstance(value, bool) or value is None:
        return set()
    source = str(value)
    if expression:
        whole = _WHOLE_EXPRESSION.match(source)
        source = "{{ " + (whole.group("expr") if whole else source) + " }}"
    elif not is_template(source):
        return set()
    try:
        tree = ENV.parse(source)
        template_bounds.check(tree)
        return set(jinja2.meta.find_undeclared_variables(tree)) - set(ENV.globals) - _guarded(tree)
    except jinja2.TemplateSyntaxError as exc:  # also unknown filters and tests
        raise TemplateError(f"template syntax error: {exc.message}", where) from None
    except template_bounds.BoundsError as exc:
        raise TemplateError(f"template refused: {exc}", where) from None
