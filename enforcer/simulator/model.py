"""The simulated failover cluster: nodes, services, membership, quorum, and KB Q252641's causality.

The rules that make wrong procedures visible live here and in the parts it is made of (msdtc.py: MSDTC;
groups.py: groups, resources and their dependencies, disks and networks):
- Every membership or configuration change bumps the cluster-database epoch
  on the nodes that are Up, and on a disk witness while the cluster runs. A
  node that would form the cluster with a copy older than the newest one
  refuses to start (System event 1561; 5398 on WS2022), unless a disk witness
  holds the newest copy, which it then takes; a file share or cloud witness
  has a vote but no copy. Groups never come up on an older configuration.
- Quorum: every node has a vote, and so has an Online witness. A starting
  node with no cluster to join is Joining until the nodes Joining with it and
  the witness hold more than half of all the votes; then the cluster forms.
  So a two-node cluster forms from one node only with its witness.

State changes take the cluster's lock; simulated durations are slept outside
it, so nodes of one cluster act concurrently as real ones do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .entities import Clock, Group, Network, Node, Service, SimError, Witness
from .faults import FaultBook
from .groups import GroupRules
from .journal import Journal
from .msdtc import EVENT_7024_MSDTC, MsdtcRules
from .stores import FileSystem

SERVICES_KEY = "hklm\\system\\currentcontrolset\\services\\"
EVENT_1561 = ("The cluster service has determined that this node does not have the latest copy of cluster "
              "configuration data. Therefore, the cluster service has prevented itself from starting on this node.")
# WS2022's form of the same refusal (windows-facts §3.2).
EVENT_5398 = ("Cluster failed to start. The latest copy of cluster configuration data was not available within "
              "the set of nodes attempting to start the cluster. Changes to the cluster occurred while the set of "
              "nodes were not in membership and as a result were not able to receive configuration data updates.")
CLUSTERING_SOURCE = "Microsoft-Windows-FailoverClustering"
WS2022_BUILD = 20348


class Cluster(GroupRules, MsdtcRules):
    def __init__(self, name: str, nodes: list[Node], *, clock: Clock, journal: Journal, faults: FaultBook,
                 witness: Witness | None = None, networks: list[Network] | None = None,
                 durations: dict[str, float] | None = None) -> None:
        self.name = name
        self.nodes = nodes
        self.groups: dict[str, Group] = {}
        self.disks: dict[str, FileSystem] = {}  # a clustered disk's files, by drive letter
        self.networks = list(networks or [])
        self.epoch = 1
        self.witness = witness
        self.lock = threading.RLock()
        self.clock = clock
        self.journal = journal
        self.faults = faults
        self.durations = {"group_online": 2.0, "group_offline": 1.0, "dtc_install": 20.0,
                          "dtc_uninstall": 10.0, "dtc_reset_log": 2.0, **(durations or {})}

    # -- lookups -----------------------------------------------------------
    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name.lower() == name.lower():
                return n
        raise SimError("not_found", f"The node '{name}' is not a member of cluster '{self.name}'.")

    def up_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.state in ("Up", "Paused")]

    def require_cluster(self, node: Node) -> None:
        """Cluster cmdlets run against the local cluster service, as they do without -Cluster; one that has not
        joined a cluster yet (Joining, no quorum) cannot answer them."""
        self.require_module(node)
        if node.state == "Down":
            raise SimError("unavailable", f"The cluster service is not running on node '{node.name}'.")
        if node.state == "Joining":
            raise SimError("unavailable", f"The cluster service on node '{node.name}' has not joined a cluster "
                                          f"yet: no quorum ({self.quorum_text()}).")

    @staticmethod
    def require_module(node: Node) -> None:
        """Every cluster cmdlet, the node's own state included, needs the FailoverClusters module."""
        if not node.cluster_module:
            raise SimError("unavailable", "the FailoverClusters module cannot be loaded: it is not installed "
                                          "(RSAT-Clustering-PowerShell)")

    def quorum_text(self) -> str:
        present = sum(1 for n in self.nodes if n.state in ("Joining", "Up", "Paused"))
        present += self.witness.votes if self.witness else 0
        return f"{present} of {len(self.nodes) + (1 if self.witness else 0)} votes"

    # -- journaled setters -------------------------------------------------
    def set_service_status(self, node: Node, svc: Service, status: str) -> None:
        self.journal.change(self.name, node.name, f"service:{svc.name}", svc.status, status)
        svc.status = status

    def remove_registry_key(self, node: Node, path: str) -> bool:
        """Delete a key by hand, as reg.exe does. A service's key deleted so leaves the Service Control Manager
        with a service that has no configuration until Windows restarts (windows-facts §1.6): the service
        stays, marked, and will not start."""
        with self.lock:
            existed = node.registry.remove(path)
            name = path[len(SERVICES_KEY):] if path.lower().startswith(SERVICES_KEY) else ""
            if existed and name and "\\" not in name and name.lower() in node.services:
                node.services[name.lower()].key_deleted = True
        if existed:
            self.journal.change(self.name, node.name, f"registry:{path}", "present", "absent")
        return existed

    def bump_epoch(self) -> None:
        """A configuration or membership change, replicated to the nodes that are Up and a disk witness."""
        self.epoch += 1
        running = self.up_nodes()
        for n in running:
            n.db_epoch = self.epoch
        if running and self.witness and self.witness.keeps_database:
            self.witness.epoch = self.epoch

    # -- services ----------------------------------------------------------
    def change_service(self, node: Node, name: str, target: str, timeout_s: float,
                       check: Callable[[], str | None] | None = None) -> str:
        """Start or stop a service, taking its simulated duration; returns its status before."""
        verb = "start" if target == "Running" else "stop"
        with self.lock:
            svc = node.service(name)
            before = svc.status
            if before == target:
                return before
            if verb == "start" and svc.key_deleted:
                raise SimError("failed", f"Service '{svc.display_name} ({svc.name})' cannot be started: its "
                                         f"registry key was deleted while Windows ran; restart Windows.")
            duration = svc.start_s if verb == "start" else svc.stop_s
        fault = self.faults.take(node.name, f"service:{svc.name}:{verb}", ("fail", "slow"))
        extra = fault.ms / 1000 / max(self.clock.scale, 1e-9) if fault and fault.kind == "slow" else 0.0
        if duration + extra > timeout_s:
            self.clock.sleep(timeout_s)
            raise SimError("timeout", f"Service '{svc.display_name} ({svc.name})' did not reach "
                                      f"{target} within {timeout_s:g} s.")
        self.clock.sleep(duration + extra)
        with self.lock:
            if fault and fault.kind == "fail":
                node.log_event(7024, "Service Control Manager",
                               f"The {svc.name} service terminated with service-specific error 1067.")
                raise SimError("failed", f"Service '{svc.display_name} ({svc.name})' failed to {verb} "
                                         f"(injected fault).")
            problem = check() if check else None
            if problem:
                raise SimError("failed", f"Service '{svc.display_name} ({svc.name})' cannot be started: "
                                         f"{EVENT_7024_MSDTC} ({problem}; System event 7024 logged)")
            self.set_service_status(node, svc, target)
        return before

    def start_service(self, node: Node, name: str, timeout_s: float) -> str:
        if name.lower() == "clussvc":  # Start-Service returns once the service runs, Joining or not
            return self.start_cluster_service(node, timeout_s, wait_for_quorum=False)
        check = (lambda: self.msdtc_fails(node)) if name.lower() == "msdtc" else None
        return self.change_service(node, name, "Running", timeout_s, check)

    def stop_service(self, node: Node, name: str, timeout_s: float) -> str:
        if name.lower() == "clussvc":
            return self.stop_cluster_service(node, timeout_s)
        return self.change_service(node, name, "Stopped", timeout_s)

    # -- cluster membership ------------------------------------------------
    def stop_cluster_service(self, node: Node, timeout_s: float) -> str:
        """Stopping the Cluster service fails the node's groups over (no drain); with dynamic quorum a graceful
        stop never costs the others their quorum."""
        before = self.change_service(node, "ClusSvc", "Stopped", timeout_s)
        node.joining = False
        if before == "Stopped":
            return before
        with self.lock:
            self.bump_epoch()
            survivors = [n for n in self.nodes if n.state == "Up"]  # a Paused node takes no role by failover
            for grp in self.groups.values():
                if grp.owner.lower() == node.name.lower():
                    self.fail_over(grp, survivors)
        return before

    def start_cluster_service(self, node: Node, timeout_s: float, wait_for_quorum: bool = True) -> str:
        """Join a running cluster, taking its configuration; or, with none running, stay Joining until the
        starting nodes and the witness hold a quorum of votes, and then form it with the newest configuration.

        A node that may not form it (the newest configuration is not among the nodes starting, nor on a disk
        witness) starts its service, which stops again and logs event 1561 (5398 on WS2022). Without
        `wait_for_quorum`, a node left Joining is as far as the start goes.
        """
        with self.lock:
            forming = not self.up_nodes() and node.state == "Down"
            starting = [n for n in self.nodes if n.state == "Joining"] + [node]
            stale = forming and self._newest_among(starting) is None
        if stale:
            self.change_service(node, "ClusSvc", "Running", timeout_s)
            with self.lock:
                event_id, text = (5398, EVENT_5398) if node.os_build >= WS2022_BUILD else (1561, EVENT_1561)
                node.log_event(event_id, CLUSTERING_SOURCE, text)
                self.set_service_status(node, node.service("ClusSvc"), "Stopped")
            raise SimError("failed", f"The cluster service on {node.name} stopped: System event {event_id}: {text}")
        before = self.change_service(node, "ClusSvc", "Running", timeout_s)
        with self.lock:
            if node.state == "Down" or (before == "Running" and not node.joining):
                return before
            if any(n is not node for n in self.up_nodes()):
                node.joining = False
                node.db_epoch = self.epoch
                return before
            node.joining = True
            self._form_with_quorum()
        return self._wait_for_quorum(node, before, timeout_s) if wait_for_quorum else before

    def _wait_for_quorum(self, node: Node, before: str, timeout_s: float) -> str:
        """A Joining node waits, as Start-ClusterNode's caller does, until the cluster forms or the time is up;
        its service keeps running either way (windows-facts §3.1)."""
        waited = 0.0
        while node.joining and waited < timeout_s:
            step = min(1.0, timeout_s - waited)
            self.clock.sleep(step)
            waited += step
        with self.lock:
            if node.joining:
                raise SimError("timeout", f"Node {node.name} is still Joining after {timeout_s:g} s: the cluster "
                                          f"has no quorum ({self.quorum_text()}; more than half are needed).")
        return before

    def _form_with_quorum(self) -> None:
        """Form the cluster once the Joining nodes and the witness hold more than half of all the votes."""
        joining = [n for n in self.nodes if n.state == "Joining"]
        total = len(self.nodes) + (1 if self.witness else 0)
        if not joining or 2 * (len(joining) + (self.witness.votes if self.witness else 0)) <= total:
            return
        configuration = self._newest_among(joining)
        former = max(joining, key=lambda n: n.db_epoch)
        for n in joining:
            n.joining = False
        self._form(former, configuration if configuration is not None else former.db_epoch)
        for n in joining:
            n.db_epoch = self.epoch

    def _newest_among(self, starting: list[Node]) -> int | None:
        """The newest configuration the `starting` nodes can form the cluster with: the newest of their own
        copies or a disk witness's, when that is the newest anywhere; None when it is not (partition in time)."""
        copies = [n.db_epoch for n in starting]
        if self.witness and self.witness.keeps_database:
            copies.append(self.witness.epoch)
        best = max(copies)
        return best if best >= max(n.db_epoch for n in self.nodes) else None

    def _form(self, node: Node, configuration: int) -> None:
        """`node` forms the cluster on `configuration` and brings back online there the groups that were online
        (their persistent state), unless it is Paused: a Paused node's groups stay as they are."""
        self.epoch = max(self.epoch, configuration) + 1
        node.db_epoch = self.epoch
        if self.witness and self.witness.keeps_database:
            self.witness.epoch = self.epoch
        for grp in self.groups.values():
            if self.node(grp.owner).state != "Up":
                grp.owner = node.name
            if node.state == "Up" and grp.persistent_online:
                self.bring_online(grp)

    # -- node pause and drain (Suspend-ClusterNode / Resume-ClusterNode) ----
    def suspend_node(self, name: str, drain: bool, timeout_s: float) -> tuple[str, list[dict[str, str]]]:
        """Pause a node, first moving its roles off when `drain`; a role with nowhere to go changes nothing."""
        with self.lock:
            node = self.node(name)
            before = node.state
            self.require_cluster(node)
            owned = [g for g in self.groups.values() if g.owner.lower() == node.name.lower()] if drain else []
            others = [n for n in self.nodes if n.state == "Up" and n is not node]
            targets: dict[str, Node] = {}
            for grp in owned:
                target = next((n for n in others if self.may_own(n, grp) is None), None)
                if target is None:
                    raise SimError("failed", f"node {node.name} cannot be drained: no node can take the cluster "
                                             f"group '{grp.name}' (the other nodes are Paused or Down, or not "
                                             f"possible owners of its resources)")
                targets[grp.name] = target
            self._set_paused(node, True)
        moved = []
        for grp in owned:
            was_online = grp.state == "Online"
            to = targets[grp.name].name
            self.group_move(grp.name, to, timeout_s)
            with self.lock:
                grp.drained_from = node.name
            moved.append({"group": grp.name, "from": node.name, "to": to})
            if was_online and grp.state != "Online":  # DrainStatus Failed: the node stays Paused
                raise SimError("failed", f"the drain of node {node.name} failed: cluster group '{grp.name}' is "
                                         f"{grp.state} on {grp.owner}")
        return before, moved

    def resume_node(self, name: str, failback: bool, timeout_s: float) -> tuple[str, list[dict[str, str]]]:
        """End a node's pause; with `failback`, bring back the roles a drain moved off it."""
        with self.lock:
            node = self.node(name)
            before = node.state
            self.require_cluster(node)
            self._set_paused(node, False)
            back = [g for g in self.groups.values() if (g.drained_from or "").lower() == node.name.lower()]
            for grp in back:
                grp.drained_from = None
        moved = []
        for grp in back if failback else []:
            moved.append({"group": grp.name, "from": grp.owner, "to": node.name})
            self.group_move(grp.name, node.name, timeout_s)
        return before, moved

    def _set_paused(self, node: Node, paused: bool) -> None:
        if node.paused == paused:
            return
        before = node.state
        node.paused = paused
        self.journal.change(self.name, node.name, f"node:{node.name}", before, node.state)
        self.bump_epoch()

    # -- whole-model view --------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "name": self.name, "epoch": self.epoch,
                "witness": vars(self.witness).copy() if self.witness else None,
                "disks": {drive: {"owner": self.disk_owner(drive), "files": fs.snapshot()}
                          for drive, fs in self.disks.items()},
                "networks": [vars(n).copy() for n in self.networks],
                "groups": [{"name": g.name, "owner": g.owner, "state": g.state,
                            "resources": [_resource_view(r) for r in g.resources]} for g in self.groups.values()],
                "nodes": [{"name": n.name, "state": n.state, "db_epoch": n.db_epoch, "paused": n.paused,
                           "dtc_registered": "msdtc" in n.services,
                           "services": {s.name: s.status for s in n.services.values()},
                           "registry": n.registry.snapshot(), "fs": n.fs.snapshot(),
                           "events": list(n.events)} for n in self.nodes],
            }


def _resource_view(res: Any) -> dict[str, Any]:
    """A resource as `/state` shows it: name, type, state and depends_on first."""
    view = {"name": res.name, "type": res.type, "state": res.state, "depends_on": list(res.depends_on),
            "possible_owners": res.possible_owners, "id": res.id}
    view.update({k: v for k, v in res.params.items()})
    return view
