"""registry_key: a key absent (exported to a .reg file first) or present with values."""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..transport.base import AgentOp
from .base import (
    REGISTRY,
    Arg,
    PlanContext,
    Resource,
    Session,
    StepError,
    registry_backup,
    registry_path,
    registry_values,
    results_or_raise,
)


def _normalise(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{Name: data}` or `{Name: {type, data}}`; ints default to REG_DWORD, the rest to REG_SZ."""
    out = {}
    for name, value in values.items():
        if isinstance(value, dict):
            out[name] = {"type": value.get("type", "REG_SZ"), "data": value.get("data")}
        else:
            out[name] = {"type": "REG_DWORD" if isinstance(value, int) and not isinstance(value, bool) else "REG_SZ",
                         "data": value}
    return out


class RegistryKey(Resource):
    type = "registry_key"
    summary = "A registry key absent (backed up first) or present with the given values."
    args = {
        "path": Arg(str, required=True, doc="HKLM\\... key path", check=registry_path),
        "state": Arg(str, default="present", choices=("present", "absent")),
        "values": Arg(dict, default={}, doc="with state=present: {Name: data} or {Name: {type, data}}",
                      check=registry_values),
        "backup": Arg(bool, default=True, doc="export the key to a .reg file before deleting it"),
    }

    reads = (REGISTRY,)
    needs_args = ("path",)

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        return {REGISTRY.name: {args["path"]}}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        assert node is not None, "a node-scoped resource is planned once per node"
        path = args["path"]
        current = ctx.state.nodes[node]["registry"][path]
        if args["state"] == "absent":
            if not current["exists"]:
                return f"{path} is absent"
            backup = ctx.backup_path(node, "registry", path, ".reg") if args["backup"] else None
            ctx.state.nodes[node]["registry"][path] = {"path": path, "exists": False, "values": {}, "subkeys": []}
            before = {"values": {k: v["data"] for k, v in current["values"].items()},
                      "subkeys": current.get("subkeys", [])}
            return [ctx.change(node, node, ["delete"], before, {"exists": False}, f"{path} exists",
                               destructive=True, backups=[backup] if backup else [], params={"path": path})]
        wanted = _normalise(args["values"])
        have = current["values"] if current["exists"] else {}
        differs = {k: v for k, v in wanted.items() if have.get(k) != v}
        if current["exists"] and not differs:
            return f"{path} has the desired values"
        ctx.state.nodes[node]["registry"][path] = {"path": path, "exists": True, "values": {**have, **wanted},
                                                   "subkeys": current.get("subkeys", [])}
        action = "update" if current["exists"] else "create"
        before = {"exists": current["exists"], "values": {k: have.get(k) for k in differs}}
        return [ctx.change(node, node, [action], before, {"exists": True, "values": differs},
                           f"{path} {'differs' if current['exists'] else 'is absent'}",
                           params={"path": path, "values": differs})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        path = change.params["path"]
        if "delete" in change.actions:
            ops = [AgentOp("registry.export", {"path": path, "dest": dest}) for dest in change.backups]
            ops += [AgentOp("registry.remove", {"path": path}), AgentOp("registry.get", {"path": path})]
        else:
            ops = [AgentOp("registry.set", {"path": path, "values": change.params["values"]}),
                   AgentOp("registry.get", {"path": path})]
        data = results_or_raise(change.via, session.call(change.via, ops))
        missing = self._missing(change, data[-1])
        if missing:
            raise StepError(f"{change.via}: {path} {missing}")
        return self._result(change, data[0].get("bytes", 0) if change.backups else 0)

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        path = change.params["path"]
        ops = [AgentOp("registry.get", {"path": path})] + [AgentOp("path.get", {"path": d}) for d in change.backups]
        data = results_or_raise(change.via, session.call(change.via, ops))
        if self._missing(change, data[0]):
            return None
        if change.backups and not data[1]["exists"]:
            raise StepError(f"{change.via}: {path} is gone but its backup {change.backups[0]} is not there")
        return self._result(change, data[1]["size"] if change.backups else 0)

    @staticmethod
    def _missing(change: Change, key: dict[str, Any]) -> str | None:
        """What the key still lacks to match the change, or None when it matches."""
        if "delete" in change.actions:
            return "still exists after removal" if key["exists"] else None
        wrong = sorted(k for k, v in change.params["values"].items() if key["values"].get(k) != v)
        return f"values {wrong} did not take" if wrong else None

    @staticmethod
    def _result(change: Change, backup_bytes: int) -> dict[str, Any]:
        result: dict[str, Any] = {"exists": "delete" not in change.actions}
        if change.backups:
            result["backup"] = registry_backup(change.via, change.params["path"], change.backups[0], backup_bytes)
        return result
