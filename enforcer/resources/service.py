"""service: a Windows service running or stopped, on every node."""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..templating import is_template
from ..transport.base import AgentOp
from .base import SERVICES, Arg, PlanContext, PlanError, Resource, Session, StepError, results_or_raise


class Service(Resource):
    type = "service"
    summary = "A Windows service running or stopped on every node."
    args = {
        "name": Arg(str, required=True),
        "state": Arg(str, required=True, choices=("running", "stopped")),
        "timeout_s": Arg(int, default=120),
    }

    reads = (SERVICES,)
    needs_args = ("name",)

    def refused(self, args: dict[str, Any]) -> str | None:
        """The cluster service leaves and joins the cluster: a plain start or stop on every node at once would
        take the whole cluster down unordered. Service names compare without case, as on Windows."""
        name = args.get("name")
        if isinstance(name, str) and not is_template(name) and name.strip().lower() == "clussvc":
            return ("service ClusSvc stops or starts a node's membership of the cluster; use cluster_restart (the "
                    "ordered restart: last down, first up) or cluster_node (pause, drain, resume) instead")
        return None

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        return {SERVICES.name: {args["name"]}}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        assert node is not None, "a node-scoped resource is planned once per node"
        name, wanted = args["name"], args["state"].capitalize()
        current = ctx.state.nodes[node]["services"][name]
        if not current["exists"]:
            raise PlanError(f"service {name} does not exist on {node}")
        if current["status"] == wanted:
            return f"{name} is {wanted}"
        ctx.state.nodes[node]["services"][name] = {**current, "status": wanted}
        return [ctx.change(node, node, ["update"], current["status"], wanted, f"{name} is {current['status']}",
                           disruptive=wanted == "Stopped", params={"name": name, "timeout_s": args["timeout_s"]})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        name = change.params["name"]
        verb = "start" if change.after == "Running" else "stop"
        ops = [AgentOp(f"service.{verb}", {"name": name, "timeout_s": change.params["timeout_s"]}),
               AgentOp("service.get", {"name": name})]
        data = results_or_raise(change.via, session.call(change.via, ops, timeout_s=change.params["timeout_s"] + 30))
        if data[-1]["status"] != change.after:
            raise StepError(f"{change.via}: {name} is {data[-1]['status']} after {verb}, not {change.after}")
        return {"status": data[-1]["status"]}

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        data = results_or_raise(change.via, session.call(change.via, [
            AgentOp("service.get", {"name": change.params["name"]})]))
        return {"status": data[0]["status"]} if data[0]["status"] == change.after else None
