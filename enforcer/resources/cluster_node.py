"""cluster_node: a node Up, Paused (keeping its roles) or drained (Paused, its roles moved off).

Cluster-Aware Updating's first step on each node, as a task: `paused` is
Suspend-ClusterNode, `drained` is Suspend-ClusterNode -Drain, `up` is
Resume-ClusterNode (-Failback Immediate with `failback: true`). A drain whose
role has nowhere to go fails at plan time, naming the role, before anything
changes; the agent checks again just before it drains, as the cluster may
have moved on since the plan.
"""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..transport.base import AgentOp
from .base import Arg, PlanContext, PlanError, Resource, Session, State, StepError, node_state_in, results_or_raise

VERBS = {"paused": "pause", "drained": "drain", "up": "resume"}


class ClusterNode(Resource):
    type = "cluster_node"
    scope = "cluster"
    cluster_cmdlets = True
    summary = "A cluster node Up, Paused, or drained of its roles and Paused (Suspend/Resume-ClusterNode)."
    args = {
        "name": Arg(str, required=True, doc="the node, by its inventory name"),
        "state": Arg(str, required=True, choices=("up", "paused", "drained")),
        "failback": Arg(bool, default=False, doc="with state up: bring back the roles drained from it"),
        "timeout_s": Arg(int, default=300, doc="how long a drain or a failback may take"),
    }

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        name, wanted, state = args["name"], args["state"], ctx.state
        if name not in state.node_names:
            raise PlanError(f"{name!r} is not a node of {ctx.cluster} ({', '.join(state.node_names)})")
        current = state.node_states.get(name, "unknown")
        if current not in ("Up", "Paused"):
            raise PlanError(f"node {name} is {current}: its cluster service must run to pause or resume it")
        owned = sorted(g for g, group in state.groups.items() if group["owner"] == name)
        online = [g for g in owned if state.groups[g]["state"] == "Online"]  # what a drain must leave Online
        moves = _drain_moves(state, name, owned) if wanted == "drained" else {}
        target = "Up" if wanted == "up" else "Paused"
        if current == target and not moves:
            return f"node {name} is {current}" + (" and owns no role" if wanted == "drained" else "")
        state.node_states[name] = target
        for group, to in moves.items():
            state.groups[group] = {**state.groups[group], "owner": to}
        reason = f"node {name} is {current}" + (f" and owns {', '.join(owned)}" if moves else "")
        where = "; ".join(f"{g} is expected to move to {to}" for g, to in moves.items())
        if wanted == "up" and args["failback"]:
            where = "roles drained from it fail back to it"
        return [ctx.change(None, name, ["update"], current, target, reason + (f" ({where})" if where else ""),
                           disruptive=target == "Paused" or bool(moves),
                           params={"verb": VERBS[wanted], "name": state.cluster_name_of(name),
                                   "failback": args["failback"], "timeout_s": args["timeout_s"], "online": online})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        params = change.params
        if params["verb"] == "resume":
            op = AgentOp("cluster.node.resume", {"name": params["name"], "timeout_s": params["timeout_s"],
                                                 "failback": "Immediate" if params["failback"] else "NoFailback"})
        else:
            op = AgentOp("cluster.node.suspend", {"name": params["name"], "timeout_s": params["timeout_s"],
                                                  "mode": "drain" if params["verb"] == "drain" else "pause"})
        data, nodes, groups = results_or_raise(change.via, session.call(
            change.via, [op, AgentOp("cluster.nodes"), AgentOp("cluster.groups")], timeout_s=params["timeout_s"] + 30))
        seen = node_state_in(nodes, params["name"])
        if seen != change.after:
            raise StepError(f"{change.via}: node {params['name']} is {seen} after {params['verb']}, not {change.after}")
        states = {g["name"]: g for g in groups["groups"]}
        down = [f"{m['group']} is {states[m['group']]['state']} on {states[m['group']]['owner']}"
                for m in data["moved"] if m["group"] in params.get("online", [])
                and m["group"] in states and states[m["group"]]["state"] != "Online"]
        if down:
            raise StepError(f"{change.via}: node {params['name']} is {seen}, but a role it moved is no longer Online: "
                            + "; ".join(down))
        return {"state": seen, "moved": data["moved"]}

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        """In effect when the node is in the state wanted and, for a drain, owns no role any more."""
        nodes, groups = results_or_raise(change.via, session.call(change.via, [
            AgentOp("cluster.nodes"), AgentOp("cluster.groups")]))
        seen = node_state_in(nodes, change.params["name"])
        owns = [g["name"] for g in groups["groups"] if (g["owner"] or "").lower() == change.params["name"].lower()]
        if seen != change.after or (change.params["verb"] == "drain" and owns):
            return None
        return {"state": seen, "moved": []}


def _drain_moves(state: State, name: str, owned: list[str]) -> dict[str, str]:
    """Where each role of the node goes when it is drained: the first other node that is Up (in node order) and a
    possible owner of every resource of the role.

    Paused and Down nodes accept no roles; a role with nowhere to go stops the plan, naming it.
    """
    targets = [n for n in state.up_nodes() if n != name]
    if owned and not targets:
        others = ", ".join(f"{n} is {state.node_states.get(n, 'unknown')}" for n in state.node_names if n != name)
        raise PlanError(f"cannot drain {name}: role {owned[0]} has no node to move to ({others})")
    moves = {}
    for group in owned:
        allowed = [n for n in targets if state.may_own(n, state.groups[group])]
        if not allowed:
            raise PlanError(f"cannot drain {name}: role {group} has no node to move to ({', '.join(targets)} "
                            f"{'is' if len(targets) == 1 else 'are'} not a possible owner of all its resources)")
        moves[group] = allowed[0]
    return moves
