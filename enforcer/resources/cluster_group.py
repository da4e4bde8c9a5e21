"""cluster_group: a cluster group absent, present (a DTC role with its resources), online or offline.

A role it creates is a DTC role as Windows builds one (windows-facts §2.1): an IP Address, a Network Name
depending on it, a Physical Disk taken from Available Storage, and the DTC depending on the name and the disk.
Before planning one, it checks what the creation needs, and names every missing piece at once: a free disk,
a Network Name Windows accepts and nobody uses, an address on a client network (or a client network for DHCP).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..model import Change
from ..protocol.wsfc import AVAILABLE_STORAGE, NETBIOS_NAME_MAX
from ..transport.base import AgentOp
from .base import Arg, PlanContext, PlanError, Resource, Session, State, StepError, ipv4_address, results_or_raise


class ClusterGroup(Resource):
    type = "cluster_group"
    scope = "cluster"
    cluster_cmdlets = True
    summary = "A cluster group absent, present (a DTC role with its own disk), online or offline, on an owner node."
    args = {
        "name": Arg(str, required=True),
        "state": Arg(str, default="online", choices=("present", "absent", "online", "offline")),
        "owner": Arg(str, default="", doc="the node it should be online on"),
        "network_name": Arg(str, default="", doc="when created: its network name"),
        "ip_address": Arg(str, default="", doc="when created: its IPv4 address (default: DHCP)", check=ipv4_address),
        "disk": Arg(str, default="", doc="when created: a Physical Disk of Available Storage, for the DTC's log"),
        "timeout_s": Arg(int, default=180),
    }

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        name, wanted, state = args["name"], args["state"], ctx.state
        group = state.groups.get(name)
        if wanted == "absent":
            if group is None:
                return f"group {name} is absent"
            disks = [r["name"] for r in group.get("resources", []) if r.get("type") == "Physical Disk"]
            if disks:  # Remove-ClusterGroup -RemoveResources would take the disk out of the cluster with it
                raise PlanError(f"group {name} holds the disk {disks[0]}: removing the group would delete its "
                                f"Physical Disk resource (and whatever is on it) from the cluster; move the disk out "
                                f"of the group first, or remove only the resources that must go")
            via = state.via_for_group(name)
            del state.groups[name]
            return [ctx.change(None, via, ["delete"], _view(group), "absent",
                               f"group {name} exists ({group['state']} on {group['owner']})", destructive=True,
                               disruptive=True,
                               params={"name": name, "ops": [["cluster.group.remove", {"name": name}]]})]
        if args["owner"] and args["owner"] not in state.node_names:
            raise PlanError(f"owner {args['owner']!r} is not a node of {ctx.cluster}")
        if group is None and wanted != "offline":
            _check_creation(args, ctx.cluster, state)
        via = state.via_for_group(name)
        desired = {k: args[k] for k in ("name", "state", "owner", "network_name", "ip_address", "disk", "timeout_s")}
        desired["owner_node"] = state.cluster_name_of(args["owner"]) if args["owner"] else ""
        ops, reached, actions = _ops_to_reach(group, desired, via)
        if not ops:  # then group exists, and reached is it
            return f"group {name} is {reached['state']} on {reached['owner']}"
        state.groups[name] = reached
        before: Any = _view(group) if group else "absent"
        return [ctx.change(None, via, actions, before, _view(reached),
                           f"group {name} is " + ("absent" if group is None else
                                                  f"{group['state']} on {group['owner']}"),
                           params={"name": name, "ops": ops, "expect": _view(reached), "desired": desired,
                                   "aliases": state.aliases, "timeout_s": args["timeout_s"]})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        name = change.params["name"]
        ops = [AgentOp(op, args) for op, args in change.params["ops"]] + [AgentOp("cluster.groups")]
        data = results_or_raise(change.via, session.call(change.via, ops,
                                                         timeout_s=len(ops) * change.params.get("timeout_s", 180)))
        groups = read_groups(data[-1], change.params.get("aliases", {}))
        if change.after == "absent":
            if name in groups:
                raise StepError(f"{change.via}: group {name} still exists after removal")
            return {"state": "absent"}
        group = groups.get(name)
        expect = change.params["expect"]
        if group is None or group["state"] != expect["state"] or group["owner"] != expect["owner"]:
            seen = f"{group['state']} on {group['owner']}" if group else "absent"
            raise StepError(f"{change.via}: group {name} is {seen}, not {expect['state']} on {expect['owner']}")
        return {"state": group["state"], "owner": group["owner"]}

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        """Re-read the group; what is still to do becomes the ops applied again (no blind re-create)."""
        data = results_or_raise(change.via, session.call(change.via, [AgentOp("cluster.groups")]))
        group = read_groups(data[0], change.params.get("aliases", {})).get(change.params["name"])
        if change.after == "absent":
            return {"state": "absent"} if group is None else None
        ops, reached, _ = _ops_to_reach(group, change.params["desired"], change.via)
        if not ops:  # then group exists, and reached is it
            return {"state": reached["state"], "owner": reached["owner"]}
        change.params["ops"] = ops
        return None


def _ops_to_reach(group: dict[str, Any] | None, desired: dict[str, Any], via: str
                  ) -> tuple[list[list[Any]], dict[str, Any], list[str]]:
    """The agent ops that take `group` (None: absent) to `desired`, the group they leave, and the actions."""
    name, ops, actions = desired["name"], [], []
    if group is None:
        create = {"name": name}
        create.update({k: desired[k] for k in ("network_name", "ip_address", "disk") if desired.get(k)})
        ops.append(["cluster.group.create_dtc", create])
        actions.append("create")
        group = {"name": name, "state": "Offline", "owner": via, "resources": []}
    target = {"online": "Online", "offline": "Offline"}.get(desired["state"])
    if desired["owner"] and group["owner"] != desired["owner"] and desired["state"] != "offline":
        ops.append(["cluster.group.move", {"name": name, "node": desired["owner_node"],
                                           "timeout_s": desired["timeout_s"]}])
        group = {**group, "owner": desired["owner"]}
    if target and group["state"] != target:
        ops.append([f"cluster.group.{desired['state']}", {"name": name, "timeout_s": desired["timeout_s"]}])
        group = {**group, "state": target}
    return ops, group, actions or ["update"]


def read_groups(answer: dict[str, Any], aliases: dict[str, str]) -> dict[str, dict[str, Any]]:
    """cluster.groups' answer by group name, owners as inventory names."""
    return {g["name"]: {**g, "owner": aliases.get(g["owner"].lower(), g["owner"]) if g["owner"] else g["owner"]}
            for g in answer["groups"]}


def _view(group: dict[str, Any]) -> dict[str, Any]:
    view = {"state": group["state"], "owner": group["owner"]}
    if group.get("resources"):
        view["resources"] = [r["name"] for r in group["resources"]]
    return view


def _check_creation(args: dict[str, Any], cluster: str, state: State) -> None:
    """Preflight of a new DTC role: everything Windows needs to bring it online, every missing piece named."""
    problems = []
    name = args["network_name"] or f"MSDTC-{cluster}"
    if len(name) > NETBIOS_NAME_MAX:
        problems.append(f"network name {name!r} is {len(name)} characters long; a Network Name is a NetBIOS computer "
                        f"name of {NETBIOS_NAME_MAX} characters at most: choose a shorter network_name")
    taken = next((g for g, group in state.groups.items() for r in group.get("resources", [])
                  if r.get("type") == "Network Name" and r.get("name", "").lower() == name.lower()), None)
    if taken:
        problems.append(f"network name {name!r} is already the Network Name of group {taken}: choose another")
    storage = state.groups.get(AVAILABLE_STORAGE, {}).get("resources", [])
    spare = [r["name"] for r in storage if r.get("type") == "Physical Disk"]
    if not args["disk"]:
        problems.append(f"a DTC role needs a Physical Disk for its log: set disk to one of Available Storage "
                        f"({', '.join(spare) or 'it has none'})")
    elif args["disk"] not in spare:
        problems.append(f"disk {args['disk']!r} is not a Physical Disk of Available Storage "
                        f"({', '.join(spare) or 'it has none'})")
    clients = [n for n in state.networks if n.get("role") == "cluster_and_client"]
    if args["ip_address"] and not any(_in_subnet(args["ip_address"], n) for n in clients):
        problems.append(f"no client network of {cluster} holds {args['ip_address']} "
                        f"({', '.join(n['address'] + '/' + n['mask'] for n in clients) or 'it has none'})")
    if not args["ip_address"] and not clients:
        problems.append(f"{cluster} has no client network for a DHCP address: set ip_address")
    if problems:
        raise PlanError("; ".join(problems))


def _in_subnet(address: str, network: dict[str, Any]) -> bool:
    try:
        return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(f"{network['address']}/{network['mask']}",
                                                                      strict=False)
    except ValueError:
        return False
