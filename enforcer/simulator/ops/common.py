"""What every op family of the simulator uses: the op's context and its arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..model import Cluster, Node, SimError
from ..stores import FileSystem, norm_path


@dataclass
class OpContext:
    cluster: Cluster
    node: Node

    def journal_change(self, obj: str, before: Any, after: Any, node: bool = True) -> None:
        self.cluster.journal.change(self.cluster.name, self.node.name if node else None, obj, before, after)


Handler = Callable[[OpContext, dict], dict]


def _arg(args: dict[str, Any], name: str, kind: type | tuple = str, default: Any = ...) -> Any:
    if name not in args or args[name] is None:
        if default is ...:
            raise SimError("invalid_args", f"missing argument '{name}'")
        return default
    value = args[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise SimError("invalid_args", f"argument '{name}' has the wrong type")
    return value


def _timeout(args: dict[str, Any], default: float) -> float:
    return float(_arg(args, "timeout_s", (int, float), default))


def _fs_for(ctx: OpContext, path: str) -> FileSystem:
    """The shared disk answers only through the node that owns it, as on a real cluster."""
    if norm_path(path)[:2].upper() != ctx.cluster.shared_drive:
        return ctx.node.fs
    owner = ctx.cluster.disk_owner()
    if owner is None or owner.lower() != ctx.node.name.lower():
        raise SimError("unavailable", f"The device is not ready: {ctx.cluster.shared_drive} is owned by "
                                      f"{owner or 'no node'}, not {ctx.node.name}.")
    return ctx.cluster.shared_fs
