"""cluster_restart: restart the cluster service on every node, last down first up (KB step 5).

Each step runs on the node it concerns, through that node's own session,
and waits for the node's state. On a failure the sequence stops and every
node this run stopped is started again, last stopped first, so no node is
left down silently; the result says where each node ended.

Before each step the restart writes where it is on every node it can reach
(RESTART_KEY: the run, the nodes stopped and started so far, in order), and
removes it when the cluster is back. A run killed while every node was down
leaves that record behind: the next run, from this control host or another,
reads it and starts the node that went down last first.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from .. import ordering
from ..errors import EnforcerError, TransportError
from ..model import Change
from ..transport.base import AgentOp
from .base import (
    REGISTRY,
    Arg,
    PlanContext,
    PlanError,
    Resource,
    Session,
    State,
    StepError,
    node_state_in,
    results_or_raise,
)

RESTART_KEY = "HKLM\\SOFTWARE\\enforcer\\OrderedRestart"


class ClusterRestart(Resource):
    type = "cluster_restart"
    scope = "cluster"
    cluster_cmdlets = True
    summary = "The ordered cluster-service restart: stop in reverse node order, start in node order."
    args = {"timeout_s": Arg(int, default=300, doc="per step: how long a node may take to go Down or come Up")}
    reads = (REGISTRY,)

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        return {REGISTRY.name: {RESTART_KEY}}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        """Every node Up: the ordered restart. Some Down while others are Up (a run died mid-restart):
        they join first, which is safe, then the restart runs whole. Anything else is not ours to force."""
        nodes = ctx.state.node_names
        states = {n: ctx.state.node_states.get(n) or _service_state(ctx.state, n) for n in nodes}
        odd = {n: s for n, s in states.items() if s not in ("Up", "Down")}
        down = [n for n in nodes if states[n] == "Down"]
        left = _interrupted(ctx.state)
        if len(down) == len(nodes) and not odd and left:
            return self._recovery(ctx, args, states, left)
        problems = []
        if odd or len(down) == len(nodes):
            problems.append("an ordered restart needs every node Up or Down with one Up at least; "
                            + ", ".join(f"{n} is {s}" for n, s in (odd or states).items())
                            + (" (resume a Paused node first: Resume-ClusterNode)" if "Paused" in odd.values() else ""))
        witness_problem = _witness_problem(ctx)
        if witness_problem:
            problems.append(witness_problem)
        if problems:
            raise PlanError("; ".join(problems))
        witness = ctx.state.witness or {}
        sequence = [("start", n) for n in down] + ordering.restart_sequence(nodes)
        return [ctx.change(None, nodes[0], ["restart"], states, {n: "Up" for n in nodes},
                           "ordered cluster-service restart: " + ordering.describe(sequence), disruptive=True,
                           params={"sequence": [list(s) for s in sequence], "order": [f"{v} {n}" for v, n in sequence],
                                   "nodes": nodes, "timeout_s": args["timeout_s"], "run_id": ctx.run_id,
                                   "cluster_names": {n: ctx.state.cluster_name_of(n) for n in nodes},
                                   "disk_witness": witness.get("type") == "disk" and witness.get("state") == "Online"})]

    def _recovery(self, ctx: PlanContext, args: dict[str, Any], states: dict[str, str],
                  left: tuple[str, list[str], list[str]]) -> list[Change]:
        """Every node Down and a restart's record on them: that run was killed mid-way. Its stopped nodes start
        again, the last one down first, as its own recovery would have done."""
        run_id, stopped, started = left
        sequence = ordering.recovery_sequence([("stop", n) for n in stopped] + [("start", n) for n in started])
        sequence += [("start", n) for n in ctx.state.node_names if n not in {m for _, m in sequence}]
        nodes = ctx.state.node_names
        return [ctx.change(None, nodes[0], ["restart"], states, {n: "Up" for n in nodes},
                           f"every node is Down: run {run_id} stopped {', '.join(stopped)} (in that order) and did "
                           f"not finish; start them again, last down first: " + ordering.describe(sequence),
                           disruptive=True,
                           params={"sequence": [list(s) for s in sequence], "order": [f"{v} {n}" for v, n in sequence],
                                   "nodes": nodes, "timeout_s": args["timeout_s"], "run_id": ctx.run_id,
                                   "cluster_names": {n: ctx.state.cluster_name_of(n) for n in nodes},
                                   "disk_witness": False})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        """Returns (and on failure keeps) a timeline of every stop and start, for the report's swimlane."""
        timeout = change.params["timeout_s"]
        done: list[ordering.Step] = []
        timeline: list[dict[str, Any]] = []
        sequence = [tuple(s) for s in change.params["sequence"]]
        record = _Record(session, change.params)
        for index, (verb, node) in enumerate(sequence):
            # A node started before others may wait Joining for them to make a quorum: the start that follows
            # is what lets it form (windows-facts §3.1); the last start waits for the cluster to be Up.
            joining_ok = verb == "start" and any(v == "start" for v, _ in sequence[index + 1:])
            if session.interrupted():
                recovered = self._recover(session, change.params, done, timeline)
                raise StepError(f"ordered restart interrupted before '{verb} {node}'; recovery: {recovered}",
                                {"timeline": timeline})
            session.progress(f"{verb} cluster service on {node}")
            record.write(done + [(verb, node)] if verb == "stop" else done)
            try:
                self._timed(timeline, verb, node,
                            functools.partial(self._step, session, verb, node, timeout, joining_ok))
            except EnforcerError as exc:
                recovered = self._recover(session, change.params, done, timeline)
                if all(self._read(session, n) in ("Up", "Paused") for n in change.params["nodes"]):
                    record.clear()  # every node is back: nothing is left for another run to recover
                raise StepError(f"ordered restart failed at '{verb} {node}': {exc}; recovery: {recovered}",
                                {"timeline": timeline}) from exc
            done.append((verb, node))
        joining = [n for n in dict.fromkeys(n for v, n in done if v == "start") if self._read(session, n) == "Joining"]
        if not joining:
            record.clear()
        if joining:
            recovered = self._recover(session, change.params, done, timeline)
            raise StepError(f"ordered restart: {', '.join(joining)} still Joining after every node started: the "
                            f"cluster did not reach quorum; recovery: {recovered}", {"timeline": timeline})
        return {"sequence": [f"{verb} {node}" for verb, node in done], "timeline": timeline}

    @staticmethod
    def _timed(timeline: list[dict[str, Any]], action: str, node: str, step: Callable[[], None]) -> None:
        entry = {"node": node, "action": action, "start": time.time(), "end": None, "ok": False}
        timeline.append(entry)
        try:
            step()
            entry["ok"] = True
        finally:
            entry["end"] = time.time()

    def _step(self, session: Session, verb: str, node: str, timeout: int, joining_ok: bool = False) -> None:
        """One step, waiting for the node's state; a lost answer is re-read and the step sent once more
        only if the node is not yet where the step takes it. With `joining_ok`, a start may end Joining."""
        wanted = {"Down"} if verb == "stop" else {"Up", "Joining"} if joining_ok else {"Up"}
        try:
            state = self._send(session, verb, node, timeout, joining_ok)
        except TransportError:
            session.reset(node)
            if self._node_state(session, node) in wanted:
                return
            state = self._send(session, verb, node, timeout, joining_ok)
        if state not in wanted:
            raise StepError(f"{node} is {state} after {verb}, not {' or '.join(sorted(wanted))}")

    @staticmethod
    def _send(session: Session, verb: str, node: str, timeout: int, joining_ok: bool = False) -> str:
        args: dict[str, Any] = {"timeout_s": timeout}
        if joining_ok:
            args["until"] = "running"
        op = AgentOp(f"cluster.service.{verb}", args)
        return results_or_raise(node, session.call(node, [op], timeout_s=timeout + min(30, timeout)))[0]["state"]

    @staticmethod
    def _node_state(session: Session, node: str) -> str:
        """The node's own view of itself: Down when its cluster service is stopped, else its state in the
        cluster (a running service that has not joined yet answers no cluster call: Joining)."""
        service, nodes = session.call(node, [AgentOp("service.get", {"name": "ClusSvc"}), AgentOp("cluster.nodes")],
                                      stop_on_error=False)
        status = service.unwrap(node)["status"]
        if status != "Running":
            return "Down" if status == "Stopped" else status or "unknown"
        if not nodes.ok:
            return "Joining"
        data = nodes.unwrap(node)
        return node_state_in(data, data["local_node"])

    def _read(self, session: Session, node: str) -> str:
        try:
            return self._node_state(session, node)
        except EnforcerError:
            return "unknown"

    def _recover(self, session: Session, params: dict[str, Any], done: list[ordering.Step],
                 timeline: list[dict[str, Any]]) -> str:
        """Start again every node this run stopped, last stopped first, as long as that is safe.

        While no node runs the cluster, only the node that stopped last holds the newest configuration and
        may start it: another would refuse (partition in time, System event 1561 or 5398) or, forced, form
        it on an older configuration. So the nodes are read first, not assumed: if that node cannot start,
        or a node this run did not see stop is Down or cannot be read (it may have stopped later), no other
        is started, unless a disk witness holds the newest copy. The cluster is then down, and the message
        says why and what to do.
        """
        steps = ordering.recovery_sequence(done)
        if not steps:
            return "no node was left stopped"
        seen = {node: self._read(session, node) for node in params["nodes"]}
        running = {n for n, state in seen.items() if state in ("Up", "Paused")}
        ours = {node for _, node in steps}
        unaccounted = [n for n, state in seen.items() if n not in ours and state not in ("Up", "Paused")]
        outcomes: list[str] = []
        holder = None  # the node that stopped last and could not start
        for verb, node in steps:
            if seen[node] in ("Up", "Paused"):
                outcomes.append(f"{node} {seen[node]}")
                continue
            blocked = None if running or params.get("disk_witness") else _why_not_first(holder, unaccounted)
            if blocked:
                outcomes.append(f"{node} not started ({blocked})")
                continue
            session.progress(f"recovery: {verb} cluster service on {node}")
            try:
                self._timed(timeline, f"recovery {verb}", node,
                            functools.partial(self._step, session, verb, node, params["timeout_s"]))
                running.add(node)
                outcomes.append(f"{node} Up")
            except EnforcerError as exc:
                outcomes.append(f"{node} NOT started ({exc})")
                holder = holder or (node if not running else None)
        if not running:
            first = holder or (unaccounted[0] if unaccounted else steps[0][1])
            outcomes.append(f"THE CLUSTER IS DOWN: {first} holds the newest configuration (it stopped last) and "
                            f"did not start; fix it (its System log says why), start it first, then the other "
                            f"nodes, and run again")
        return ", ".join(outcomes)


def _why_not_first(holder: str | None, unaccounted: list[str]) -> str | None:
    """Why a node may not be the first to start a stopped cluster, or None when nothing says it is stale."""
    if holder:
        return f"it would start the cluster on an older configuration than {holder}'s"
    if unaccounted:
        return f"{', '.join(unaccounted)} did not stop as this run saw it and may hold a newer configuration"
    return None


def _witness_problem(ctx: PlanContext) -> str | None:
    """Preflight: the cluster must be able to form again once every node is stopped.

    After a full stop the first node to start needs the witness's vote (Microsoft: a two-node cluster
    requires a witness); whether a cluster without one forms again, and how, is not something to find
    out half-way through a restart. So a restart is planned only with a witness Online.
    """
    witness = ctx.state.witness
    if not witness:
        return (f"an ordered restart stops every node of {ctx.cluster}, and {ctx.cluster} has no quorum witness: it "
                f"might not form again (a two-node cluster requires one); configure a disk or file share witness "
                f"(Set-ClusterQuorum) first")
    if witness["state"] != "Online":
        return (f"an ordered restart stops every node of {ctx.cluster}, and its witness {witness['name']} is "
                f"{witness['state']}: it might not form again; bring the witness Online first")
    return None


def _service_state(state: State, node: str) -> str:
    """A node the cluster cannot be asked about (its own cluster service is down): Down when its ClusSvc is
    stopped, as the node itself says."""
    service = ((state.nodes.get(node) or {}).get("services") or {}).get("ClusSvc") or {}
    return "Down" if service.get("status") == "Stopped" else "unknown"


def _interrupted(state: State) -> tuple[str, list[str], list[str]] | None:
    """(run id, nodes stopped, nodes started again) of a restart whose record is still on a node, in inventory
    names; the newest record when nodes disagree (the longest: it was written last)."""
    found: list[tuple[str, list[str], list[str]]] = []
    for facts in state.nodes.values():
        key = (facts.get("registry") or {}).get(RESTART_KEY) or {}
        values = key.get("values") or {} if key.get("exists") else {}
        if "Stopped" in values:
            found.append((str((values.get("RunId") or {}).get("data", "?")),
                          [state.inventory_name(n) for n in values["Stopped"].get("data") or []],
                          [state.inventory_name(n) for n in (values.get("Started") or {}).get("data") or []]))
    return max(found, key=lambda r: len(r[1]) + len(r[2])) if found else None


class _Record:
    """Where the ordered restart is, on every node it can reach, for a run that comes after a crash."""

    def __init__(self, session: Session, params: dict[str, Any]) -> None:
        self.session, self.params = session, params
        self.names = params.get("cluster_names", {})

    def write(self, done: list[ordering.Step]) -> None:
        values = {"RunId": {"data": self.params.get("run_id", "")},
                  "Stopped": {"type": "REG_MULTI_SZ", "data": [self.names.get(n, n) for v, n in done if v == "stop"]},
                  "Started": {"type": "REG_MULTI_SZ", "data": [self.names.get(n, n) for v, n in done if v == "start"]}}
        self._each(AgentOp("registry.set", {"path": RESTART_KEY, "values": values}))

    def clear(self) -> None:
        self._each(AgentOp("registry.remove", {"path": RESTART_KEY}))

    def _each(self, op: AgentOp) -> None:
        """Best effort: a node that cannot be written now is one less copy, not a reason to stop the restart."""
        for node in self.params["nodes"]:
            try:
                self.session.call(node, [op])
            except EnforcerError:
                self.session.reset(node)
