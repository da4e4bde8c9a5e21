"""A run's lease on each cluster it changes, held on the cluster's own nodes.

The local lock (locks.py) only stops runs that share a state directory and a
spelling of the cluster's name. The lease is seen by every control host: it
is kept on the nodes (the agent's lease ops, enforcer's own registry key,
judged by the node's clock), so two inventories naming one cluster
differently, or two operators with their own state directories, meet there.

It is taken in the same agent call that reads a node's facts (a real agent
call costs a PowerShell start, about a second: a round of its own would be
felt), in node order: the cluster's first node by name first, the others once
it said yes, so of two runs racing for one cluster the one that got the first
node wins and the other touches nothing else. A cluster whose lease is held
by a live run is reported and not planned; one whose holder stopped renewing
(expired 60 s after its last renewal) is taken over, and the dead run named.
Only `apply`, `restore` and scheduled enforce rounds take it; `plan` and
`facts` write nothing on the nodes.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from .errors import EnforcerError
from .locks import ClusterLocked
from .model import Cluster
from .transport.base import AgentOp, OpResult
from .transport.pool import Connections

LEASE_KEY = "HKLM\\SOFTWARE\\enforcer\\Lease"  # where the agent keeps it (lease.ps1): Holder, Expires
LEASE_TTL_S = 60.0
RENEW_EVERY_S = 20.0
log = logging.getLogger("enforcer.lease")


def describe(holder: dict[str, Any]) -> str:
    """Who holds a lease, as an operator needs it to find them."""
    step = f", during {holder['step']}" if holder.get("step") else ""
    return (f"run {holder.get('run_id', '?')} of {holder.get('user', '?')} on {holder.get('host', '?')} "
            f"(pid {holder.get('pid', '?')}, started {holder.get('started', '?')}{step})")


class Leases:
    """The leases of one run: taken with the facts, renewed while it lives, released when it ends."""

    def __init__(self, run_id: str, started: str, clusters: list[Cluster], connections: Connections) -> None:
        self.holder = {"run_id": run_id, "user": getpass.getuser(), "host": socket.gethostname(),
                       "pid": os.getpid(), "started": started, "step": None}
        self.connections = connections
        self.order = {c.name: sorted(c.node_names, key=str.lower) for c in clusters}
        self.held: dict[str, list[str]] = {c.name: [] for c in clusters}
        self.refused: dict[str, dict[str, Any]] = {}  # cluster -> the live holder in the way
        self.taken_over: dict[str, dict[str, Any]] = {}  # cluster -> the dead run whose lease this one took
        self._first_answered = {c.name: threading.Event() for c in clusters}
        self._lock = threading.Lock()
        self._stop, self._wake = threading.Event(), threading.Event()
        self._renewer: threading.Thread | None = None
        self._lease_connections: Connections | None = None

    # -- taking it, with the facts -------------------------------------------------------------------------
    def is_first(self, cluster: str, node: str) -> bool:
        return self.order[cluster][0] == node

    def ops_for(self, cluster: str, node: str) -> list[AgentOp]:
        """The lease op to send ahead of the node's facts; a node after the first waits for the first's answer."""
        if not self.is_first(cluster, node):
            self._first_answered[cluster].wait()
        if cluster in self.refused:
            return []
        return [AgentOp("lease.acquire", {"run_id": self.holder["run_id"], "holder": self.holder,
                                          "ttl_s": LEASE_TTL_S}, "lease")]

    def answered(self, cluster: str, node: str, result: OpResult | None) -> None:
        """The node's answer to `ops_for`'s op (None: not asked, or the call failed)."""
        with self._lock:
            if result is not None and result.ok and result.data:
                if result.data["held"]:
                    if node not in self.held[cluster]:  # a plan made again (after a confirmation) takes it again
                        self.held[cluster].append(node)
                    if result.data["taken_over"]:
                        self.taken_over[cluster] = result.data["taken_over"]
                elif result.data["holder"]:
                    self.refused.setdefault(cluster, result.data["holder"])
        if self.is_first(cluster, node):
            self._first_answered[cluster].set()

    def settle(self, cluster: str, plannable: bool) -> None:
        """Once all its nodes answered: keep the lease of a cluster that will be planned, give back any other."""
        if (cluster in self.refused or not plannable) and self.held[cluster]:
            self._release(cluster, self.connections)

    def take(self) -> None:
        """Take every cluster's lease now, node by node in order, for a run that reads no facts first (restore);
        ClusterLocked, naming the holder, when another live run holds one (those taken are given back)."""
        for cluster, nodes in self.order.items():
            for node in nodes:
                ops = self.ops_for(cluster, node)
                if not ops:
                    break
                try:
                    result: OpResult | None = self.connections.get(node).call(ops)[0]
                except EnforcerError as exc:
                    log.warning("could not take the lease on %s: %s", node, exc)
                    result = None
                self.answered(cluster, node, result)
            if cluster in self.refused:
                self.release_all()
                raise ClusterLocked(cluster, self.refused[cluster])

    # -- keeping it ----------------------------------------------------------------------------------------
    def keep(self, on_lost: Callable[[str, str], None]) -> None:
        """Renew every RENEW_EVERY_S, and as soon as a step starts (so a run kept waiting names it), on shells of
        its own (the run's are busy with steps), never holding a step up; `on_lost(cluster, why)` when a renewal
        finds the lease gone (taken over, or removed by `enforcer unlock`)."""
        def renew_forever() -> None:
            while True:
                self._wake.wait(RENEW_EVERY_S)
                self._wake.clear()
                if self._stop.is_set():
                    return
                for cluster, nodes in self.held.items():
                    for node in nodes:
                        why = self._renew(cluster, node)
                        if why:
                            on_lost(cluster, why)
        if any(self.held.values()):
            self._renewer = threading.Thread(target=renew_forever, name="lease-renewer", daemon=True)
            self._renewer.start()

    def step(self, step: str | None) -> None:
        """The step in flight, carried to the nodes by a renewal now."""
        self.holder["step"] = step
        self._wake.set()

    def _renew(self, cluster: str, node: str) -> str | None:
        if self._lease_connections is None:
            self._lease_connections = self.connections.apart()
        try:
            data = self._lease_connections.get(node).call([AgentOp("lease.renew", {
                "run_id": self.holder["run_id"], "ttl_s": LEASE_TTL_S, "step": self.holder["step"]})])[0].unwrap(node)
        except EnforcerError as exc:  # a node out of reach now may answer the next time, well within the TTL
            log.warning("could not renew the lease on %s: %s", node, exc)
            return None
        if data["held"]:
            return None
        if data["holder"]:
            return f"the lease on {node} is now held by {describe(data['holder'])}"
        return f"the lease on {node} was removed"

    # -- giving it back ------------------------------------------------------------------------------------
    def release_all(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._renewer is not None:
            self._renewer.join()
        for cluster in self.held:
            if self.held[cluster]:
                self._release(cluster, self.connections)
        if self._lease_connections is not None:
            self._lease_connections.close()

    def _release(self, cluster: str, connections: Connections) -> None:
        for node in self.held[cluster]:
            try:
                connections.get(node).call([AgentOp("lease.release", {"run_id": self.holder["run_id"]})])
            except EnforcerError as exc:  # it expires by itself within LEASE_TTL_S
                log.warning("could not release the lease on %s (it expires within %.0f s): %s", node, LEASE_TTL_S,
                            exc)
        self.held[cluster] = []


def holders(cluster: Cluster, connections: Connections) -> dict[str, tuple[dict[str, Any], str]]:
    """node -> (holder, expires) of every node of the cluster that holds a lease now (a read: it changes nothing)."""
    found = {}
    for node in sorted(cluster.node_names, key=str.lower):
        key = connections.get(node).call([AgentOp("registry.get", {"path": LEASE_KEY})])[0].unwrap(node)
        values = key["values"] if key["exists"] else {}
        if "Holder" in values:
            found[node] = (json.loads(values["Holder"]["data"]), str((values.get("Expires") or {}).get("data")))
    return found


def unlock(cluster: Cluster, connections: Connections) -> list[tuple[str, dict[str, Any] | None]]:
    """`enforcer unlock`: remove whatever lease each node holds; (node, the holder removed or None)."""
    removed = []
    for node in sorted(cluster.node_names, key=str.lower):
        data = connections.get(node).call([AgentOp("lease.release", {"force": True})])[0].unwrap(node)
        removed.append((node, data["taken_over"]))
    return removed
