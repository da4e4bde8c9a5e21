"""registry_key: a key absent (exported to a .reg file first) or present with values."""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..transport.base import AgentOp
from .base import Arg, FactNeeds, PlanContext, Resource, Session, StepError, results_or_raise


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
        "path": Arg(str, required=True, doc="HKLM\\... key path"),
        "state": Arg(str, default="present", choices=("present", "absent")),
        "values": Arg(dict, default={}, doc="with state=present: {Name: data} or {Name: {type, data}}"),
        "backup": Arg(bool, default=True, doc="export the key to a .reg file before deleting it"),
    }

    needs_args = ("path",)

    def needs(self, args: dict[str, Any]) -> FactNeeds:
        return FactNeeds(registry={args["path"]})

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        path = args["path"]
        current = ctx.state.nodes[node]["registry"][path]
        if args["state"] == "absent":
            if not current["exists"]:
                return f"{path} is absent"
            backup = ctx.backup_path(node, "registry", path, ".reg") if args["backup"] else None
            ctx.state.nodes[node]["registry"][path] = {"path": path, "exists": False, "values": {}, "subkeys": []}
            before = {"values": {k: v["data"] for k, v in current["values"].items()},
                      "subkeys": current.get("subkeys", [])}
            return [ctx.change(node, node, ["delete"], before,
                               {"exists": False}, f"{path} exists", destructive=True, backups=[backup] if backup else [],
                               params={"path": path})]
        wanted = _normalise(args["values"])
        have = current["values"] if current["exists"] else {}
        differs = {k: v for k, v in wanted.items() if have.get(k) != v}
        if current["exists"] and not differs:
            return f"{path} has the desired values"
        ctx.state.nodes[node]["registry"][path] = {"path": path, "exists": True, "values": {**have, **wanted},
                                                   "subkeys": current.get("subkeys", [])}
        action = "update" if current["exists"] else "create"
        return [ctx.change(node, node, [action], {"exists": current["exists"], "values": {k: have.get(k) for k in differs}},
                           {"exists": True, "values": differs},
                           f"{path} {'differs' if current['exists'] else 'is absent'}", params={"path": path,
                                                                                               "values": differs})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        path = change.params["path"]
        if "delete" in change.actions:
            ops = [AgentOp("registry.export", {"path": path, "dest": dest}) for dest in change.backups]
            ops += [AgentOp("registry.remove", {"path": path}), AgentOp("registry.get", {"path": path})]
        else:
            ops = [AgentOp("registry.set", {"path": path, "values": change.params["values"]}),
                   AgentOp("registry.get", {"path": path})]
        data = results_or_raise(change.via, session.call(change.via, ops))
        after = data[-1]
        if "delete" in change.actions and after["exists"]:
            raise StepError(f"{change.via}: {path} still exists after removal")
        if "delete" not in change.actions:
            wrong = {k: v for k, v in change.params["values"].items() if after["values"].get(k) != v}
            if wrong:
                raise StepError(f"{change.via}: {path} values {sorted(wrong)} did not take")
        result: dict[str, Any] = {"exists": after["exists"]}
        if change.backups:
            result["backup"] = {"node": change.via, "kind": "registry", "path": path, "file": change.backups[0],
                                "bytes": data[0].get("bytes", 0)}
        return result
