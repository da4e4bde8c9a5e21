"""failover_test: move a group to every other node and back, Online at every stop (KB step 6)."""

from __future__ import annotations

from typing import Any

from .. import ordering
from ..model import Change
from ..transport.base import AgentOp
from .base import Arg, PlanContext, PlanError, Resource, Session, StepError, results_or_raise


class FailoverTest(Resource):
    type = "failover_test"
    scope = "cluster"
    cluster_cmdlets = True
    summary = "Move a group to every other node and back, verifying it is Online at each stop."
    args = {"group": Arg(str, required=True), "timeout_s": Arg(int, default=180)}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        name = args["group"]
        group = ctx.state.groups.get(name)
        if group is None:
            raise PlanError(f"group {name} does not exist: nothing to fail over")
        tour = ordering.failover_tour(ctx.state.node_names, group["owner"])
        states = ctx.state.node_states
        refused = [f"{node} is {states.get(node, 'unknown')} and takes no role (Resume-ClusterNode)"
                   for node in tour[:-1] if states.get(node, "Up") != "Up"]
        refused += [f"{node} is not a possible owner of every resource of {name} (Set-ClusterOwnerNode -Resource)"
                    for node in tour[:-1] if not ctx.state.may_own(node, group)]
        if refused:  # Move-ClusterGroup would fail there (windows-facts §3.4, §3.6)
            raise PlanError(f"group {name} cannot visit every node, and the test would fail half-way: "
                            f"{'; '.join(refused)}")
        return [ctx.change(None, group["owner"], ["test"], {"owner": group["owner"]},
                           {"visits": tour, "owner": group["owner"]},
                           f"fail {name} over to {', '.join(tour[:-1])} and back to {group['owner']}",
                           disruptive=True,
                           params={"name": name, "tour": tour, "order": [f"move to {n}" for n in tour],
                                   "cluster_names": {n: ctx.state.cluster_name_of(n) for n in tour},
                                   "timeout_s": args["timeout_s"]})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        """Each move is asked of the node the group is leaving: it is Up and it holds the group."""
        name, holder = change.params["name"], change.via
        visited: list[str] = []
        timeout = change.params["timeout_s"]
        for target in change.params["tour"]:
            session.progress(f"move {name} to {target}")
            cluster_name = change.params["cluster_names"][target]
            data = results_or_raise(holder, session.call(holder, [
                AgentOp("cluster.group.move", {"name": name, "node": cluster_name, "timeout_s": timeout})],
                timeout_s=timeout + min(30, timeout)))
            if data[0]["owner"].lower() != cluster_name.lower() or data[0]["state"] != "Online":
                raise StepError(f"{name} is {data[0]['state']} on {data[0]['owner']} after moving to {target}; "
                                f"visited so far: {', '.join(visited) or 'none'}")
            visited.append(target)
            holder = target
        return {"visited": visited}

