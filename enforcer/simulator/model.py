"""The simulated failover cluster: nodes, services, groups, and KB Q252641's causality.

The rules that make wrong procedures visible live here:
- MSDTC, an OS component (msdtc.exe 2001.12.10941.16384 everywhere), starts
  only while it is registered, its service's key was not deleted by hand, and
  its log on the shared disk exists and can be read; otherwise SCM logs event
  7024 (service-specific error 3221229574) with MSDTC's own beside it, and the
  DTC cluster resource goes Failed. Reset-DtcLog makes a new log.
- Every membership or configuration change bumps the cluster-database epoch
  on the nodes that are Up, and on a disk witness while the cluster runs. A
  node that would form the cluster with a copy older than the newest one
  refuses to start (System event 1561), unless a disk witness holds the
  newest copy, which it then takes; a file share or cloud witness has a vote
  but no copy. Groups never come up on an older configuration.
- Quorum is not modelled: the node that forms the cluster forms it alone
  (docs/windows-fidelity.md says why, and what a real cold start may do).

State changes take the cluster's lock; simulated durations are slept outside
it, so nodes of one cluster act concurrently as real ones do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .entities import Clock, Group, Node, Resource, Service, SimError, Witness
from .faults import FaultBook
from .journal import Journal
from .msdtc import DTC_RESOURCE_TYPE, EVENT_7024_MSDTC, MsdtcRules
from .stores import FileSystem

SERVICES_KEY = "hklm\\system\\currentcontrolset\\services\\"
EVENT_1561 = ("The cluster service has determined that this node does not have the latest copy of cluster "
              "configuration data. Therefore, the cluster service has prevented itself from starting on this node.")
CLUSTERING_SOURCE = "Microsoft-Windows-FailoverClustering"


class Cluster(MsdtcRules):
    def __init__(self, name: str, nodes: list[Node], *, shared_drive: str, clock: Clock, journal: Journal,
                 faults: FaultBook, witness: Witness | None = None,
                 durations: dict[str, float] | None = None) -> None:
        self.name = name
        self.nodes = nodes
        self.groups: dict[str, Group] = {}
        self.shared_drive = shared_drive.upper().rstrip("\\")
        self.shared_fs = FileSystem()
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

    def group(self, name: str) -> Group:
        grp = self.groups.get(name.lower())
        if grp is None:
            raise SimError("not_found", f"The cluster group '{name}' was not found.")
        return grp

    def up_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.state in ("Up", "Paused")]

    def require_cluster(self, node: Node) -> None:
        """Cluster cmdlets run against the local cluster service, as they do without -Cluster."""
        if node.state == "Down":
            raise SimError("unavailable", f"The cluster service is not running on node '{node.name}'.")

    def disk_owner(self) -> str | None:
        for grp in self.groups.values():
            if any(r.type == "Physical Disk" for r in grp.resources) and grp.state == "Online":
                return grp.owner
        return None

    # -- journaled setters -------------------------------------------------
    def set_service_status(self, node: Node, svc: Service, status: str) -> None:
        self.journal.change(self.name, node.name, f"service:{svc.name}", svc.status, status)
        svc.status = status

    def set_group_state(self, grp: Group, state: str) -> None:
        self.journal.change(self.name, None, f"group:{grp.name}", grp.state, state)
        grp.state = state

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
        if name.lower() == "clussvc":
            return self.start_cluster_service(node, timeout_s)
        check = (lambda: self.msdtc_fails(node)) if name.lower() == "msdtc" else None
        return self.change_service(node, name, "Running", timeout_s, check)

    def stop_service(self, node: Node, name: str, timeout_s: float) -> str:
        if name.lower() == "clussvc":
            return self.stop_cluster_service(node, timeout_s)
        return self.change_service(node, name, "Stopped", timeout_s)

    # -- cluster membership ------------------------------------------------
    def stop_cluster_service(self, node: Node, timeout_s: float) -> str:
        before = self.change_service(node, "ClusSvc", "Stopped", timeout_s)
        if before == "Stopped":
            return before
        with self.lock:
            self.bump_epoch()
            survivors = [n for n in self.nodes if n.state == "Up"]  # a Paused node takes no role by failover
            for grp in self.groups.values():
                if grp.owner.lower() != node.name.lower():
                    continue
                if survivors:
                    grp.owner = survivors[0].name
                    self.bring_online(grp)
                else:
                    self.set_group_state(grp, "Offline")
                    for res in grp.resources:
                        res.state = "Offline"
        return before

    def start_cluster_service(self, node: Node, timeout_s: float) -> str:
        """Join a running cluster, taking its configuration; or form it, with the newest configuration.

        A node that may not form it starts its service, which stops again and logs event 1561.
        """
        with self.lock:
            forming = not self.up_nodes() and node.state == "Down"
            newest = self._newest_available(node) if forming else None
        if forming and newest is None:
            self.change_service(node, "ClusSvc", "Running", timeout_s)
            with self.lock:
                node.log_event(1561, CLUSTERING_SOURCE, EVENT_1561)
                self.set_service_status(node, node.service("ClusSvc"), "Stopped")
            raise SimError("failed", f"The cluster service on {node.name} stopped: System event 1561: {EVENT_1561}")
        before = self.change_service(node, "ClusSvc", "Running", timeout_s)
        if before == "Running":
            return before
        with self.lock:
            if any(n is not node for n in self.up_nodes()):
                node.db_epoch = self.epoch
            else:
                self._form(node, newest or node.db_epoch)
        return before

    def _newest_available(self, node: Node) -> int | None:
        """The newest configuration `node` can form the cluster with: its own when it is the newest, or a
        disk witness's copy when that is; None when neither is (partition in time)."""
        newest = max(n.db_epoch for n in self.nodes)
        witness = self.witness
        if witness and witness.keeps_database and witness.epoch >= newest:
            return witness.epoch
        return node.db_epoch if node.db_epoch >= newest else None

    def _form(self, node: Node, configuration: int) -> None:
        """`node` forms the cluster on `configuration` and brings the groups online there, unless it is
        Paused: a Paused node's groups stay as they are."""
        self.epoch = max(self.epoch, configuration) + 1
        node.db_epoch = self.epoch
        if self.witness and self.witness.keeps_database:
            self.witness.epoch = self.epoch
        for grp in self.groups.values():
            if self.node(grp.owner).state != "Up":
                grp.owner = node.name
            if node.state == "Up":
                self.bring_online(grp)

    # -- groups ------------------------------------------------------------
    def bring_online(self, grp: Group) -> None:
        """Bring a group's resources online on its owner (under the lock, no duration)."""
        owner = self.node(grp.owner)
        failed = None
        if owner.state == "Down":
            failed = f"owner node {owner.name} is down"
        elif self.faults.take(owner.name, f"group:{grp.name}:online", ("fail",)):
            failed = "injected fault"
        for res in grp.resources:
            problem = failed
            if problem is None and res.type == DTC_RESOURCE_TYPE:
                problem = self.msdtc_fails(owner)
            res.state = "Failed" if problem else "Online"
            failed = failed or (problem and f"resource '{res.name}' failed: {problem}")
        self.set_group_state(grp, "Failed" if failed else "Online")

    def take_offline(self, grp: Group) -> None:
        for res in grp.resources:
            res.state = "Offline"
        self.set_group_state(grp, "Offline")

    def group_online(self, name: str, timeout_s: float) -> Group:
        self.clock.sleep(min(self.durations["group_online"], timeout_s))
        with self.lock:
            grp = self.group(name)
            owner = self.node(grp.owner)
            if owner.state == "Paused" and grp.state != "Online":  # a Paused node's groups stay as they are
                raise SimError("failed", f"The cluster group '{name}' cannot come online on {owner.name}: the "
                                         f"node is Paused.")
            self.bring_online(grp)
            if grp.state != "Online":
                failed = [r.name for r in grp.resources if r.state == "Failed"]
                raise SimError("failed", f"The cluster group '{name}' failed to come online on "
                                         f"{grp.owner}: resource(s) {', '.join(failed)} Failed.")
            return grp

    def group_move(self, name: str, target: str, timeout_s: float) -> tuple[str, Group]:
        with self.lock:
            grp = self.group(name)
            node = self.node(target)
            if node.state != "Up":
                raise SimError("failed", f"The node '{node.name}' is {node.state}; cannot move '{name}' there.")
            before = grp.owner
            was_online = grp.state == "Online"
            self.take_offline(grp)
            grp.owner = node.name
        self.clock.sleep(min(self.durations["group_offline"] + self.durations["group_online"], timeout_s))
        with self.lock:
            if was_online:
                self.bring_online(grp)
            self.bump_epoch()
            return before, grp

    # -- node pause and drain (Suspend-ClusterNode / Resume-ClusterNode) ----
    def suspend_node(self, name: str, drain: bool, timeout_s: float) -> tuple[str, list[dict[str, str]]]:
        """Pause a node, first moving its roles off when `drain`; a role with nowhere to go changes nothing."""
        with self.lock:
            node = self.node(name)
            before = node.state
            self.require_cluster(node)
            owned = [g for g in self.groups.values() if g.owner.lower() == node.name.lower()] if drain else []
            targets = [n for n in self.nodes if n.state == "Up" and n is not node]
            if owned and not targets:
                raise SimError("failed", f"node {node.name} cannot be drained: no node can take the cluster "
                                         f"group '{owned[0].name}' (the other nodes are Paused or Down)")
            self._set_paused(node, True)
        moved = []
        for grp in owned:
            was_online = grp.state == "Online"
            self.group_move(grp.name, targets[0].name, timeout_s)
            with self.lock:
                grp.drained_from = node.name
            moved.append({"group": grp.name, "from": node.name, "to": targets[0].name})
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

    def remove_group(self, name: str) -> bool:
        with self.lock:
            grp = self.groups.get(name.lower())
            if grp is None:
                return False
            self.take_offline(grp)
            del self.groups[name.lower()]
            self.journal.change(self.name, None, f"group:{grp.name}", "Offline", "absent")
            self.bump_epoch()
            return True

    def create_dtc_group(self, owner: Node, name: str, network_name: str) -> Group:
        """Resources named as the agent names them (no parentheses: dependency expressions group with them)."""
        with self.lock:
            if name.lower() in self.groups:
                raise SimError("failed", f"A cluster group named '{name}' already exists.")
            grp = Group(name=name, owner=owner.name, resources=[
                Resource(f"IP Address {network_name}", "IP Address"),
                Resource(network_name, "Network Name"),
                Resource(f"MSDTC-{network_name}", DTC_RESOURCE_TYPE),
            ])
            self.groups[name.lower()] = grp
            self.journal.change(self.name, None, f"group:{name}", "absent", "Offline")
            self.bump_epoch()
            return grp

    # -- whole-model view --------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "name": self.name, "epoch": self.epoch,
                "witness": vars(self.witness).copy() if self.witness else None,
                "shared_drive": self.shared_drive,
                "disk_owner": self.disk_owner(), "shared_fs": self.shared_fs.snapshot(),
                "groups": [{"name": g.name, "owner": g.owner, "state": g.state,
                            "resources": [vars(r).copy() for r in g.resources]} for g in self.groups.values()],
                "nodes": [{"name": n.name, "state": n.state, "db_epoch": n.db_epoch, "paused": n.paused,
                           "dtc_registered": "msdtc" in n.services,
                           "services": {s.name: s.status for s in n.services.values()},
                           "registry": n.registry.snapshot(), "fs": n.fs.snapshot(),
                           "events": list(n.events)} for n in self.nodes],
            }
