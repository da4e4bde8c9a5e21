"""Playbooks: load, validate everything before any connection, and say file:line when wrong.

A playbook is a list of plays `{name, hosts, vars, vars_files, gather_facts,
tasks, handlers}`; a task is `{name, <type>: {args}, when, loop, tags,
notify, register}`. Validation covers structure, task types and their
arguments, template syntax, and names templates read that nothing defines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import InputError
from .model import Play, Playbook, Task
from .resources import FACT_KINDS, RESOURCES
from .templating import bare_expression, is_template, undeclared
from .yamlsource import kind_of, load_yaml, parse_yaml, where

MAX_TIMEOUT_S = 86_400  # a day: a wait past it is a typo, and no WinRM operation lives that long
PLAY_KEYS = ("name", "hosts", "vars", "vars_files", "gather_facts", "tasks", "handlers", "serial",
             "max_fail_percentage")
TASK_KEYS = ("name", "when", "loop", "tags", "notify", "register")
GATHER_KEYS = (*sorted(FACT_KINDS), "events")  # each kind of fact the tasks read, and an event query
# Names every template may read besides variables: gathered facts and where it runs.
BUILTINS = frozenset({"facts", "nodes", "cluster", "cluster_name", "node_name", "inventory_hostname", "item",
                      "run_id"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_playbook(path: str | Path) -> Playbook:
    data = load_yaml(path, "playbook")
    source = str(path)
    if not isinstance(data, list):
        raise InputError("a playbook must be a list of plays (each starting with '- name:')", f"{source}:1")
    plays = [_play(p, i, source, Path(path).parent) for i, p in enumerate(data, 1)]
    if not plays:
        raise InputError("the playbook has no plays", f"{source}:1")
    return Playbook(source, plays)


def _play(raw: Any, index: int, source: str, base: Path) -> Play:
    location = where(raw, f"{source}:1")
    if not isinstance(raw, dict):
        raise InputError(f"play {index} must be a mapping with name, hosts and tasks", location)
    _no_unknown(raw, PLAY_KEYS, f"play {index}", location)
    name = str(raw.get("name") or f"play {index}")
    hosts = raw.get("hosts")
    if not isinstance(hosts, str) or not hosts.strip():
        raise InputError(f"play {name!r}: hosts must name cluster groups or a pattern (e.g. all)",
                         where(raw, location, "hosts"))
    variables = _mapping(raw.get("vars"), f"play {name!r}: vars", where(raw, location, "vars"))
    for entry in _list(raw.get("vars_files"), f"play {name!r}: vars_files", where(raw, location, "vars_files")):
        variables = {**variables, **load_vars_file(base / str(entry), where(raw, location, "vars_files"))}
    tasks = _tasks(_list(raw.get("tasks"), f"play {name!r}: tasks", where(raw, location, "tasks")), name, location,
                   base)
    handlers = _tasks(_list(raw.get("handlers"), f"play {name!r}: handlers", where(raw, location, "handlers")), name,
                      location, base)
    if not tasks:
        raise InputError(f"play {name!r} has no tasks", where(raw, location, "tasks"))
    gather_at = where(raw, location, "gather_facts")
    gather = _mapping(raw.get("gather_facts"), f"play {name!r}: gather_facts", gather_at)
    _no_unknown(gather, GATHER_KEYS, f"play {name!r}: gather_facts", gather_at)
    for kind in gather:
        _gathered(kind, gather[kind], f"play {name!r}: gather_facts.{kind}",
                  where(raw.get("gather_facts"), gather_at, kind))
    handler_names = {h.name for h in handlers}
    for task in tasks + handlers:
        missing = [n for n in task.notify if n not in handler_names]
        if missing:
            raise InputError(f"task {task.name!r} notifies {missing[0]!r}, which is not a handler of this play",
                             task.location)
    return Play(name, hosts.strip(), variables, tasks, handlers, location, gather, *_rolling(raw, name, location))


def _rolling(raw: dict, name: str, location: str) -> tuple[int | str, float]:
    """`serial` (a positive int, or "N%") and `max_fail_percentage` (0 to 100), as Ansible's play keywords."""
    serial = raw.get("serial", 1)
    valid = (isinstance(serial, int) and not isinstance(serial, bool) and serial >= 1) or (
        isinstance(serial, str) and re.fullmatch(r"(100|[1-9][0-9]?)%", serial.strip()) is not None)
    if not valid:
        raise InputError(f"play {name!r}: serial must be a whole number of nodes (1 or more) or a percentage "
                         f"like '50%', not {serial!r}", where(raw, location, "serial"))
    limit = raw.get("max_fail_percentage", 0)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 <= limit <= 100:
        raise InputError(f"play {name!r}: max_fail_percentage must be a number from 0 to 100, not {limit!r}",
                         where(raw, location, "max_fail_percentage"))
    return serial.strip() if isinstance(serial, str) else serial, float(limit)


# gather_facts.events: each key's check, as the agent's events.query reads them.
_EVENT_KEYS: dict[str, tuple[str, Any]] = {
    "ids": ("a list of event ids (whole numbers)", lambda v: isinstance(v, list) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in v)),
    "source": ("a string", lambda v: isinstance(v, str)),
    "log": ("a string", lambda v: isinstance(v, str)),
    "since_hours": ("a number of hours", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0),
    "since_boot": ("true or false", lambda v: isinstance(v, bool)),
    "max": ("a whole number from 1 to 10000", lambda v: isinstance(v, int) and not isinstance(v, bool)
            and 1 <= v <= 10000),
}


def _gathered(kind: str, value: Any, what: str, location: str) -> None:
    """gather_facts: names (a list of strings) for each fact kind; an event query for `events`."""
    if kind != "events":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{what} must be a list of names", location)
        return
    _no_unknown(_mapping(value, what, location), tuple(_EVENT_KEYS), what, location)
    for key, entry in value.items():
        expected, valid = _EVENT_KEYS[key]
        if not valid(entry):
            raise InputError(f"{what}.{key} must be {expected}, got {entry!r}", where(value, location, key))


def load_vars_file(path: Path, location: str) -> dict[str, Any]:
    if not path.exists():
        raise InputError(f"vars file {path} does not exist", location)
    data = load_yaml(path, "vars file")
    return _mapping(data, "a vars file", f"{path}:1")


BLOCK_KEYS = ("name", "block", "when", "tags")
IMPORT_KEYS = ("name", "import_tasks", "when", "tags")
MAX_IMPORT_DEPTH = 8  # files importing each other: a cycle, not a playbook


def _tasks(raws: list[Any], play: str, location: str, base: Path, when: str | bool | None = None,
           tags: tuple[str, ...] = (), depth: int = 0) -> list[Task]:
    """The play's tasks, with `block` (a list of tasks sharing `when` and `tags`) and `import_tasks` (a file of
    tasks, read now: Ansible's static import) expanded in place; each task keeps its own file:line."""
    tasks: list[Task] = []
    for raw in raws:
        if isinstance(raw, dict) and ("block" in raw or "import_tasks" in raw):
            key = "block" if "block" in raw else "import_tasks"
            at = where(raw, location, key)
            name = str(raw.get("name") or key)
            _no_unknown(raw, BLOCK_KEYS if key == "block" else IMPORT_KEYS, f"{key} {name!r}", at)
            own_when = raw.get("when")
            if own_when is not None and not isinstance(own_when, (str, bool)):
                raise InputError(f"{key} {name!r}: when must be an expression (a string), not {kind_of(own_when)}",
                                 where(raw, location, "when"))
            inner_tags = (*tags, *_names(raw.get("tags"), name, "tags", where(raw, location, "tags")))
            if key == "block":
                inner, source, inner_base = _list(raw["block"], f"block {name!r}", at), location, base
            else:
                if depth >= MAX_IMPORT_DEPTH:
                    raise InputError(f"import_tasks nests deeper than {MAX_IMPORT_DEPTH} files (a cycle?)", at)
                path = base / str(raw["import_tasks"])
                if not path.is_file():
                    raise InputError(f"import_tasks: {path} does not exist", at)
                inner = _list(load_yaml(path, "tasks file"), f"tasks file {path}", f"{path}:1")
                source, inner_base = f"{path}:1", path.parent
            tasks += _tasks(inner, play, source, inner_base, _both(when, own_when), inner_tags,
                            depth + (key == "import_tasks"))
            continue
        task = _task(raw, play, location)
        task.when = _both(when, task.when)
        task.tags = list(dict.fromkeys([*tags, *task.tags]))
        tasks.append(task)
    return tasks


def _both(outer: str | bool | None, inner: str | bool | None) -> str | bool | None:
    """A block's `when` and its task's, both required (a task inherits every enclosing block's conditions)."""
    if outer is None or outer is True:
        return inner
    if inner is None or inner is True or outer is False:
        return outer
    if inner is False:
        return False
    return f"({bare_expression(str(outer))}) and ({bare_expression(str(inner))})"


def _task(raw: Any, play: str, play_location: str) -> Task:
    location = where(raw, play_location)
    if not isinstance(raw, dict):
        raise InputError(f"play {play!r}: each task must be a mapping with a name and one task type", location)
    types = [k for k in raw if k not in TASK_KEYS]
    known = [k for k in types if k in RESOURCES]
    unknown = [k for k in types if k not in RESOURCES]
    name = str(raw.get("name") or (known[0] if known else "unnamed task"))
    if unknown:
        raise InputError(f"task {name!r}: unknown key or task type {unknown[0]!r}; expected one of "
                         f"{', '.join(sorted(RESOURCES))} plus {', '.join(TASK_KEYS)}",
                         where(raw, location, unknown[0]))
    if len(known) != 1:
        raise InputError(f"task {name!r} must have exactly one task type, found "
                         f"{', '.join(known) if known else 'none'}", location)
    kind = known[0]
    args = _args(kind, raw[kind], name, where(raw, location, kind))
    when = raw.get("when")
    if when is not None and not isinstance(when, (str, bool)):
        raise InputError(f"task {name!r}: when must be an expression (a string), not {kind_of(when)}",
                         where(raw, location, "when"))
    loop = raw.get("loop")
    if loop is not None and not (isinstance(loop, list) or is_template(loop)):
        raise InputError(f"task {name!r}: loop must be a list or a template that gives one",
                         where(raw, location, "loop"))
    register = raw.get("register")
    if register is not None and not (isinstance(register, str) and _IDENTIFIER.match(register)):
        raise InputError(f"task {name!r}: register must be a variable name", where(raw, location, "register"))
    return Task(name=name, type=kind, args=args, location=where(raw, location, kind), when=when, loop=loop,
                tags=_names(raw.get("tags"), name, "tags", where(raw, location, "tags")),
                notify=_names(raw.get("notify"), name, "notify", where(raw, location, "notify")), register=register)


def _args(kind: str, raw: Any, task: str, location: str) -> dict[str, Any]:
    """Arguments checked against the task type's schema; templated values are checked once rendered."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(f"task {task!r}: {kind} takes a mapping of arguments, got {kind_of(raw)}", location)
    schema = RESOURCES[kind].args
    for key in raw:
        if key not in schema:
            raise InputError(f"task {task!r}: {kind} has no argument {key!r}; expected one of "
                             f"{', '.join(schema)}", where(raw, location, key))
    args = {}
    for key, spec in schema.items():
        if key not in raw or raw[key] is None:
            if spec.required:
                raise InputError(f"task {task!r}: {kind} needs the argument {key!r}", location)
            args[key] = spec.default
            continue
        args[key] = raw[key]
        check_arg(kind, key, raw[key], task, where(raw, location, key), rendered=False)
    why = RESOURCES[kind].refused(args)
    if why:
        raise InputError(f"task {task!r}: {why}", location)
    return args


def coerce_arg(kind: str, key: str, value: Any) -> Any:
    """A rendered string where a number or a flag is expected, as `-e timeout=30` gives, becomes one."""
    kinds = RESOURCES[kind].args[key].kind
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, str) and str not in kinds:
        text = value.strip()
        if int in kinds and re.fullmatch(r"-?\d+", text):
            return int(text)
        if bool in kinds and text.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return text.lower() in ("true", "yes", "on", "1")
    return value


def check_arg(kind: str, key: str, value: Any, task: str, location: str, rendered: bool = True) -> None:
    """Type and choices of one argument; a template is checked only once it is rendered."""
    spec = RESOURCES[kind].args[key]
    if (not rendered and is_template(value)) or spec.raw:
        return
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join({str: "a string", int: "a whole number", bool: "true or false", list: "a list",
                                dict: "a mapping"}.get(k, k.__name__) for k in kinds)
        raise InputError(f"task {task!r}: {kind}.{key} must be {expected}, got {value!r}", location)
    if spec.choices and value not in spec.choices:
        raise InputError(f"task {task!r}: {kind}.{key} must be one of {', '.join(spec.choices)}, got {value!r}",
                         location)
    problem = spec.check(value) if spec.check else None
    if key == "timeout_s" and isinstance(value, int) and not 1 <= value <= MAX_TIMEOUT_S:  # seconds a wait may take
        problem = f"must be from 1 to {MAX_TIMEOUT_S} seconds"
    if problem:
        raise InputError(f"task {task!r}: {kind}.{key} {problem}, got {value!r}", location)


def validate_names(playbook: Playbook, known: set[str]) -> None:
    """Every name a template reads must be defined somewhere: a typo fails here, not mid-run."""
    for play in playbook.plays:
        scope = known | set(play.vars) | BUILTINS
        for key, value in play.vars.items():
            _check(undeclared(value, play.location), scope, f"play {play.name!r}: vars.{key}", play.location)
        registered: set[str] = set()
        for task in play.tasks + play.handlers:
            names = scope | registered
            spec = RESOURCES[task.type].args
            for key, value in task.args.items():
                used = undeclared(value, task.location, expression=spec[key].raw) if value is not None else set()
                _check(used, names, f"task {task.name!r}: {task.type}.{key}", task.location)
            if task.when is not None:
                _check(undeclared(task.when, task.location, expression=True), names, f"task {task.name!r}: when",
                       task.location)
            if task.loop is not None:
                _check(undeclared(task.loop, task.location), names, f"task {task.name!r}: loop", task.location)
            if task.register:
                registered.add(task.register)


def _check(used: set[str], known: set[str], what: str, location: str) -> None:
    missing = sorted(used - known)
    if missing:
        raise InputError(f"{what} uses undefined variable {missing[0]!r}", location)


def parse_extra_vars(values: list[str]) -> dict[str, Any]:
    """`-e k=v [k2=v2]`, `-e '{"k": true}'` (YAML/JSON) or `-e @vars.yml`; later ones win."""
    merged: dict[str, Any] = {}
    for value in values:
        if value.startswith("@"):
            merged.update(load_vars_file(Path(value[1:]), f"-e {value}"))
        elif value.lstrip().startswith("{"):
            data = parse_yaml(value.encode(), f"-e {value!r}", "extra vars")
            merged.update(_mapping(data, "extra vars", f"-e {value!r}"))
        else:
            for pair in value.split():
                key, sep, val = pair.partition("=")
                if not sep or not _IDENTIFIER.match(key):
                    raise InputError(f"extra var {pair!r}: expected NAME=VALUE, @FILE or a YAML mapping",
                                     f"-e {value!r}")
                merged[key] = val
    return merged


def _no_unknown(raw: dict, allowed: tuple[str, ...], what: str, location: str) -> None:
    for key in raw:
        if key not in allowed:
            raise InputError(f"{what}: unknown key {key!r}; expected {', '.join(allowed)}", where(raw, location, key))


def _mapping(value: Any, what: str, location: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a mapping, got {kind_of(value)}", location)
    for key in value:
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            raise InputError(f"{what}: {key!r} is not a valid variable name", where(value, location, key))
    return dict(value)


def _list(value: Any, what: str, location: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{what} must be a list, got {kind_of(value)}", location)
    return value


def _names(value: Any, task: str, key: str, location: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InputError(f"task {task!r}: {key} must be a name or a list of names", location)
    return items

