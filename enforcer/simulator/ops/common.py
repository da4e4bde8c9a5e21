"""What every op family of the simulator uses: the op's context and its arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..entities import Node, SimError
from ..model import Cluster
from ..stores import FileSystem, norm_path


@dataclass
class OpContext:
    cluster: Cluster
    node: Node
    user: str = ""  # the session's account, DOMAIN\user

    def journal_change(self, obj: str, before: Any, after: Any, node: bool = True) -> None:
        self.cluster.journal.change(self.cluster.name, self.node.name if node else None, obj, before, after)


Handler = Callable[[OpContext, dict], dict]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    """As the agent's Test-IsInteger: 3.0 counts, JSON having one kind of number."""
    return _is_number(value) and float(value).is_integer()


# The agent's Get-Arg -As types, checked alike: kind -> (check, what the error message says is expected).
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "number": (_is_number, "a number"),
    "integer": (_is_integer, "an integer"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "strings": (lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "a list of strings"),
    "integers": (lambda v: isinstance(v, list) and all(_is_integer(i) for i in v), "a list of integers"),
}


def _arg(args: dict[str, Any], name: str, kind: str = "string", default: Any = ...) -> Any:
    """One op argument, as the agent's Get-Arg reads it: absent and null alike, `...` for a required one.

    tests/test_agent_static.py reads these calls to hold each op's arguments to the catalogue.
    """
    if args.get(name) is None:
        if default is ...:
            raise SimError("invalid_args", f"missing argument '{name}'")
        return default
    check, expected = _KINDS[kind]
    if not check(args[name]):
        raise SimError("invalid_args", f"argument '{name}' must be {expected}")
    return args[name]


def _timeout(args: dict[str, Any], default: float) -> float:
    return float(_arg(args, "timeout_s", "number", default))


def _fs_for(ctx: OpContext, path: str) -> FileSystem:
    """A clustered disk answers only through the node that owns it, as on a real cluster; a disk whose resource
    was removed answers nobody."""
    drive = norm_path(path)[:2].upper()
    if drive not in ctx.cluster.disks:
        return ctx.node.fs
    owner = ctx.cluster.disk_owner(drive)
    if owner is None or owner.lower() != ctx.node.name.lower():
        raise SimError("unavailable", f"The device is not ready: {drive} is owned by {owner or 'no node'}, not "
                                      f"{ctx.node.name}.")
    return ctx.cluster.disks[drive]
