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
    summary = "Move a group to every other node and back, verifying it is Online at each stop."
    args = {"group": Arg(str, required=True), "timeout_s": Arg(int, default=180)}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        name = args["group"]
        group = ctx.state.groups.get(name)
        if group is None:
            raise PlanError(f"group {name} does not exist: nothing to fail over")
        tour = ordering.failover_tour(ctx.state.node_names, group["owner"])
        return [ctx.change(None, group["owner"], ["test"], {"owner": group["owner"]},
                           {"visits": tour, "owner": group["owner"]},
                           f"fail {name} over to {', '.join(tour[:-1])} and back to {group['owner']}",
                           params={"name": name, "tour": tour, "order": [f"move to {n}" for n in tour],
                                   "timeout_s": args["timeout_s"]})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        name, visited = change.params["name"], []
        for target in change.params["tour"]:
            session.progress(f"move {name} to {target}")
            data = results_or_raise(change.via, session.call(change.via, [
                AgentOp("cluster.group.move", {"name": name, "node": target, "timeout_s": change.params["timeout_s"]})],
                timeout_s=change.params["timeout_s"] + 30))
            if (data[0]["owner"], data[0]["state"]) != (target, "Online"):
                raise StepError(f"{name} is {data[0]['state']} on {data[0]['owner']} after moving to {target}; "
                                f"visited so far: {', '.join(visited) or 'none'}")
            visited.append(target)
        return {"visited": visited}
