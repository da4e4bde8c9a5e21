"""path: a file or folder absent, archived first; on a node, or on the cluster's shared disk."""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..transport.base import AgentOp
from .base import (
    PATHS,
    Arg,
    PlanContext,
    PlanError,
    Resource,
    Session,
    StepError,
    path_backup,
    results_or_raise,
    windows_path,
)


class Path(Resource):
    type = "path"
    summary = "A file or folder absent (archived to a zip first), on every node or on the shared disk."
    scope = "node"
    args = {
        "path": Arg(str, required=True, check=windows_path),
        "state": Arg(str, default="absent", choices=("absent",)),
        "location": Arg(str, default="node", choices=("node", "shared_disk"),
                  doc="shared_disk: once, through the node that owns the disk"),
        "backup": Arg(bool, default=True, doc="archive before removing"),
    }

    def scope_of(self, args: dict[str, Any]) -> str:
        return "cluster" if args.get("location") == "shared_disk" else "node"

    reads = (PATHS,)
    needs_args = ("path",)

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        return {PATHS.name: {args["path"]}}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        path = args["path"]
        if args["location"] == "shared_disk":
            node = via = ctx.state.reader_of(path)
        else:
            assert node is not None, "a node-scoped path is planned once per node"
            via = node
        current = ctx.state.nodes[node]["paths"][path]
        if current.get("exists") is None:
            raise PlanError(f"{node} cannot read {path}: {current.get('error', {}).get('message', 'unknown')}")
        if not current["exists"]:
            return f"{path} is absent"
        before = {"exists": True, "type": current["type"], "size": current["size"], "items": current["items"]}
        for name in (ctx.state.node_names if args["location"] == "shared_disk" else [node]):
            entry = ctx.state.nodes[name]["paths"][path]
            if entry.get("exists"):
                entry.update(exists=False, type=None, size=0, items=0)
        backup = ctx.backup_path(via, "path", path, ".zip") if args["backup"] else None
        shared = args["location"] == "shared_disk"
        return [ctx.change(None if shared else node, via, ["delete"], before, {"exists": False},
                           f"{path} exists" + (f" (shared disk, owned by {via})" if shared else ""),
                           destructive=True, backups=[backup] if backup else [], params={"path": path})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        path = change.params["path"]
        ops = [AgentOp("path.archive", {"path": path, "dest": dest}) for dest in change.backups]
        ops += [AgentOp("path.remove", {"path": path}), AgentOp("path.get", {"path": path})]
        data = results_or_raise(change.via, session.call(change.via, ops))
        if data[-1]["exists"]:
            raise StepError(f"{change.via}: {path} still exists after removal")
        return self._result(change, data[0].get("bytes", 0) if change.backups else 0)

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        path = change.params["path"]
        ops = [AgentOp("path.get", {"path": p}) for p in [path, *change.backups]]
        data = results_or_raise(change.via, session.call(change.via, ops))
        if data[0]["exists"]:
            return None
        if change.backups and not data[1]["exists"]:
            raise StepError(f"{change.via}: {path} is gone but its backup {change.backups[0]} is not there")
        return self._result(change, data[1]["size"] if change.backups else 0)

    @staticmethod
    def _result(change: Change, backup_bytes: int) -> dict[str, Any]:
        result: dict[str, Any] = {"exists": False}
        if change.backups:
            result["backup"] = path_backup(change.via, change.params["path"], change.backups[0], backup_bytes)
        return result
