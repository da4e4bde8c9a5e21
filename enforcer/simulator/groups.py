"""Cluster groups and their resources: dependencies, online order, owners, clustered disks and networks.

A part of `model.Cluster`, as MsdtcRules is. What Windows does and this follows (windows-facts §2, §3.5, §3.6):
- a resource comes online only after everything it depends on, and only with the dependencies its type
  requires (protocol/wsfc.py): a DTC needs a Network Name and a Physical Disk, a Network Name an IP Address;
- a static IP Address comes online on a cluster network that holds it, a DHCP one only where a DHCP server
  answers; a resource never comes online on a node that is not one of its possible owners;
- a clustered disk's files answer only through the node whose Online Physical Disk resource holds the drive;
  a disk resource removed from the cluster keeps its files but nobody reaches them;
- a group's state follows its resources' (CLUSTER_GROUP_STATE): Failed if any failed, PartialOnline if some are
  online and none failed or pending.
"""

from __future__ import annotations

import ipaddress
import threading
import uuid
from typing import TYPE_CHECKING, Any

from ..protocol.wsfc import AVAILABLE_STORAGE, DTC_TYPE, group_state, missing_dependencies
from .entities import Clock, Group, Network, Node, Resource, SimError
from .faults import FaultBook
from .journal import Journal
from .stores import FileSystem


def resource_id(cluster: str, name: str, serial: int) -> str:
    """A resource's GUID: made anew when a resource of the same name is created again, as Windows does."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"enforcer-sim/{cluster}/{name}/{serial}"))


class GroupRules:
    name: str
    nodes: list[Node]
    groups: dict[str, Group]
    disks: dict[str, FileSystem]
    networks: list[Network]
    clock: Clock
    journal: Journal
    faults: FaultBook
    durations: dict[str, float]
    epoch: int

    lock: threading.RLock

    if TYPE_CHECKING:  # the rest of model.Cluster, which these rules are a part of
        def node(self, name: str) -> Node: ...
        def bump_epoch(self) -> None: ...
        def clustered_dtc_fails(self, node: Node, grp: Group, res: Resource) -> str | None: ...

    # -- lookups -----------------------------------------------------------
    def group(self, name: str) -> Group:
        grp = self.groups.get(name.lower())
        if grp is None:
            raise SimError("not_found", f"The cluster group '{name}' was not found.")
        return grp

    def find_resource(self, name: str) -> tuple[Group, Resource] | None:
        for grp in self.groups.values():
            res = grp.resource(name)
            if res is not None:
                return grp, res
        return None

    def disk_of_drive(self, drive: str) -> tuple[Group, Resource] | None:
        for grp in self.groups.values():
            for res in grp.resources:
                if res.type == "Physical Disk" and str(res.params.get("drive", "")).upper() == drive.upper():
                    return grp, res
        return None

    def disk_owner(self, drive: str) -> str | None:
        """The node that reaches `drive`: the owner of its Physical Disk resource while that is Online."""
        found = self.disk_of_drive(drive)
        if found is None or found[1].state != "Online":
            return None
        return found[0].owner

    def may_own(self, node: Node, grp: Group) -> str | None:
        """Why `node` may not own `grp` (one of its resources does not list it as a possible owner), or None."""
        for res in grp.resources:
            if res.possible_owners is not None and node.name.lower() not in {o.lower() for o in res.possible_owners}:
                return f"node {node.name} is not a possible owner of resource '{res.name}'"
        return None

    # -- states ------------------------------------------------------------
    def set_group_state(self, grp: Group, state: str) -> None:
        self.journal.change(self.name, None, f"group:{grp.name}", grp.state, state)
        grp.state = state

    def settle_group_state(self, grp: Group) -> None:
        self.set_group_state(grp, group_state([r.state for r in grp.resources]))

    def online_order(self, grp: Group) -> list[Resource]:
        """Dependencies before their dependants (set_dependencies refuses a cycle)."""
        ordered: list[Resource] = []

        def visit(res: Resource) -> None:
            if res in ordered:
                return
            for dep in res.depends_on:
                found = grp.resource(dep)
                if found is not None:
                    visit(found)
            ordered.append(res)

        for res in grp.resources:
            visit(res)
        return ordered

    def bring_online(self, grp: Group) -> dict[str, str]:
        """Bring a group's resources online on its owner, dependencies first (under the lock, no duration);
        returns why each resource that failed did."""
        owner = self.node(grp.owner)
        failed = None
        if owner.state not in ("Up", "Paused"):
            failed = f"owner node {owner.name} is {owner.state}"
        elif self.faults.take(owner.name, f"group:{grp.name}:online", ("fail",)):
            failed = "injected fault"
        why: dict[str, str] = {}
        for res in self.online_order(grp):
            if res.state == "Online" and not failed:
                continue
            if not failed and any((dep := grp.resource(d)) is None or dep.state != "Online" for d in res.depends_on):
                res.state = "Offline"  # never before its dependencies; a failed one leaves it offline
                continue
            problem = failed or self._resource_problem(owner, grp, res)
            res.state = "Failed" if problem else "Online"
            if problem:
                why[res.name] = problem
        self.settle_group_state(grp)
        return why

    def _resource_problem(self, owner: Node, grp: Group, res: Resource) -> str | None:
        """Why `res` cannot come online on `owner`, its dependencies being Online; None when it can."""
        if res.possible_owners is not None and owner.name.lower() not in {o.lower() for o in res.possible_owners}:
            return f"{owner.name} is not a possible owner"
        dep_types = [dep.type for d in res.depends_on if (dep := grp.resource(d)) is not None]
        missing = missing_dependencies(res.type, dep_types)
        if missing:
            return f"it has no dependency on a {' and a '.join(missing)}"
        if res.type == "IP Address":
            return self._address_problem(res)
        if res.type == DTC_TYPE:
            return self.clustered_dtc_fails(owner, grp, res)
        return None

    def _address_problem(self, res: Resource) -> str | None:
        address = res.params.get("address")
        if address:
            network = self.network_of(str(address))
            return None if network else f"no cluster network holds {address}"
        if res.params.get("dhcp"):
            if any(n.role == "cluster_and_client" and n.dhcp for n in self.networks):
                return None
            return "no DHCP server answers on the cluster's client networks"
        return "it has neither an address nor DHCP"

    def network_of(self, address: str) -> Network | None:
        """The client network whose subnet holds `address`."""
        for net in self.networks:
            subnet = ipaddress.IPv4Network(f"{net.address}/{net.mask}", strict=False)
            if net.role == "cluster_and_client" and ipaddress.IPv4Address(address) in subnet:
                return net
        return None

    def take_offline(self, grp: Group) -> None:
        for res in reversed(self.online_order(grp)):  # dependants first
            res.state = "Offline"
        self.set_group_state(grp, "Offline")

    # -- group ops ---------------------------------------------------------
    def group_online(self, name: str, timeout_s: float) -> Group:
        self.clock.sleep(min(self.durations["group_online"], timeout_s))
        with self.lock:
            grp = self.group(name)
            owner = self.node(grp.owner)
            if owner.state == "Paused" and grp.state != "Online":  # a Paused node's groups stay as they are
                raise SimError("failed", f"The cluster group '{name}' cannot come online on {owner.name}: the "
                                         f"node is Paused.")
            why = self.bring_online(grp)
            grp.persistent_online = True
            if grp.state != "Online":
                failed = [f"{r.name} {r.state}" + (f" ({why[r.name]})" if r.name in why else "")
                          for r in grp.resources if r.state != "Online"]
                raise SimError("failed", f"The cluster group '{name}' failed to come online on "
                                         f"{grp.owner}: resource(s) {', '.join(failed)}.")
            return grp

    def group_move(self, name: str, target: str, timeout_s: float) -> tuple[str, Group]:
        with self.lock:
            grp = self.group(name)
            node = self.node(target)
            if node.state != "Up":
                raise SimError("failed", f"The node '{node.name}' is {node.state}; cannot move '{name}' there.")
            refused = self.may_own(node, grp)
            if refused:
                raise SimError("failed", f"The cluster group '{name}' cannot move to {node.name}: {refused}.")
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

    def fail_over(self, grp: Group, survivors: list[Node]) -> None:
        """Move a group off a node whose cluster service stops: to the first survivor that may own it, unless it
        failed over more than its threshold within its period (then it is left Failed, as Windows stops trying)."""
        target = next((n for n in survivors if self.may_own(n, grp) is None), None)
        if target is not None and not grp.persistent_online:
            grp.owner = target.name  # an operator's offline group moves, and stays offline
            return
        if target is None:
            self.take_offline(grp)
            return
        now = self.clock.now()
        grp.failovers = [t for t in grp.failovers if now - t < grp.failover_period_h * 3600]
        threshold = grp.failover_threshold if grp.failover_threshold is not None else len(self.nodes) - 1
        grp.owner = target.name
        if len(grp.failovers) >= threshold:
            self.take_offline(grp)
            self.set_group_state(grp, "Failed")
            return
        grp.failovers.append(now)
        self.bring_online(grp)

    def remove_group(self, name: str) -> bool:
        """Remove-ClusterGroup -RemoveResources: every resource goes, a Physical Disk's too (its files stay on the
        disk, which no node reaches any more)."""
        with self.lock:
            grp = self.groups.get(name.lower())
            if grp is None:
                return False
            self.take_offline(grp)
            del self.groups[name.lower()]
            self.journal.change(self.name, None, f"group:{grp.name}", "Offline", "absent")
            self.bump_epoch()
            return True

    def create_dtc_group(self, owner: Node, name: str, network_name: str, address: str | None, disk: str) -> Group:
        """A DTC role as the agent builds it: IP Address, Network Name on it, the disk moved in from Available
        Storage, and the DTC depending on both (names without parentheses: dependency expressions use them)."""
        with self.lock:
            if name.lower() in self.groups:
                raise SimError("failed", f"A cluster group named '{name}' already exists.")
            found = self.find_resource(disk)
            if found is None:
                raise SimError("not_found", f"no such cluster resource: {disk}")
            storage, disk_res = found
            if disk_res.type != "Physical Disk" or storage.name.lower() != AVAILABLE_STORAGE.lower():
                raise SimError("failed", f"resource {disk} is a {disk_res.type} in group {storage.name}, not a "
                                         f"Physical Disk in {AVAILABLE_STORAGE}")
            if address is None and not any(n.role == "cluster_and_client" for n in self.networks):
                raise SimError("failed", "the cluster has no IPv4 client network")
            if address is not None and self.network_of(address) is None:
                raise SimError("invalid_args", f"no client cluster network contains {address}")
            ip_name, dtc_name = f"IP Address {network_name}", f"MSDTC-{network_name}"
            storage.resources.remove(disk_res)
            disk_res.state = "Offline"
            self.settle_group_state(storage)
            grp = Group(name=name, owner=owner.name, resources=[
                self._new_resource(ip_name, "IP Address", [],
                                   {"address": address} if address else {"dhcp": True}),
                self._new_resource(network_name, "Network Name", [ip_name]),
                disk_res,
                self._new_resource(dtc_name, DTC_TYPE, [network_name, disk_res.name]),
            ])
            self.groups[name.lower()] = grp
            self.journal.change(self.name, None, f"group:{name}", "absent", "Offline")
            self.bump_epoch()
            return grp

    # -- resource ops --------------------------------------------------------
    def _new_resource(self, name: str, kind: str, depends_on: list[str],
                      params: dict[str, Any] | None = None) -> Resource:
        return Resource(name, kind, "Offline", list(depends_on), None, dict(params or {}),
                        resource_id(self.name, name, self.epoch))

    def add_resource(self, group: str, name: str, kind: str, depends_on: list[str]) -> tuple[Group, Resource]:
        with self.lock:
            grp = self.group(group)
            if self.find_resource(name) is not None:
                raise SimError("failed", f"A cluster resource named '{name}' already exists.")
            self._check_dependencies(grp, name, depends_on)
            res = self._new_resource(name, kind, depends_on)
            grp.resources.append(res)
            self.journal.change(self.name, None, f"resource:{name}", "absent", "Offline")
            self.settle_group_state(grp)
            self.bump_epoch()
            return grp, res

    def remove_resource(self, name: str) -> bool:
        """Remove-ClusterResource: offline first, then gone; refused while another resource depends on it
        (MS-CMRP ApiDeleteResource)."""
        with self.lock:
            found = self.find_resource(name)
            if found is None:
                return False
            grp, res = found
            dependants = [o.name for o in grp.resources if res.name.lower() in (d.lower() for d in o.depends_on)]
            if dependants:
                raise SimError("failed", f"resource {name} cannot be removed: {', '.join(dependants)} depend(s) on it")
            grp.resources.remove(res)
            self.journal.change(self.name, None, f"resource:{name}", res.state, "absent")
            self.settle_group_state(grp)
            self.bump_epoch()
            return True

    def set_dependencies(self, name: str, depends_on: list[str]) -> tuple[list[str], Resource]:
        with self.lock:
            found = self.find_resource(name)
            if found is None:
                raise SimError("not_found", f"no such cluster resource: {name}")
            grp, res = found
            self._check_dependencies(grp, name, depends_on)
            before, res.depends_on = res.depends_on, list(depends_on)
            if self._cycle(grp, res):
                res.depends_on = before
                raise SimError("invalid_args", f"the dependencies of {name} would form a cycle")
            self.journal.change(self.name, None, f"resource:{name}:depends_on", before, res.depends_on)
            self.bump_epoch()
            return before, res

    def _check_dependencies(self, grp: Group, name: str, depends_on: list[str]) -> None:
        for dep in depends_on:
            if grp.resource(dep) is None or dep.lower() == name.lower():
                raise SimError("invalid_args", f"dependency '{dep}' is not another resource of group '{grp.name}'")

    def _cycle(self, grp: Group, start: Resource) -> bool:
        seen: set[str] = set()
        todo = list(start.depends_on)
        while todo:
            dep = grp.resource(todo.pop())
            if dep is None or dep.name in seen:
                continue
            if dep is start:
                return True
            seen.add(dep.name)
            todo.extend(dep.depends_on)
        return False
