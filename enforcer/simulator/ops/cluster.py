"""The failover cluster ops: cluster.nodes, cluster.groups, cluster.networks, cluster.group.*, cluster.resource.*,
cluster.node.*, cluster.service.*."""

from __future__ import annotations

import ipaddress
from typing import Any

from ...protocol.wsfc import NETBIOS_NAME_MAX
from ..entities import SimError
from .common import Handler, OpContext, _arg, _timeout


def cluster_nodes(ctx: OpContext, args: dict) -> dict:
    with ctx.cluster.lock:
        ctx.cluster.require_cluster(ctx.node)
        witness = ctx.cluster.witness
        return {"cluster": ctx.cluster.name, "local_node": ctx.node.name,
                "nodes": [{"name": n.name, "id": i + 1, "state": n.state} for i, n in enumerate(ctx.cluster.nodes)],
                "witness": {"type": witness.type, "name": witness.name, "state": witness.state} if witness else None}


def cluster_groups(ctx: OpContext, args: dict) -> dict:
    with ctx.cluster.lock:
        ctx.cluster.require_cluster(ctx.node)
        return {"groups": [_group_data(g, ctx.cluster.nodes) for g in ctx.cluster.groups.values()]}


def cluster_networks(ctx: OpContext, args: dict) -> dict:
    with ctx.cluster.lock:
        ctx.cluster.require_cluster(ctx.node)
        return {"networks": [{"name": n.name, "address": n.address, "mask": n.mask, "role": n.role, "state": "Up"}
                             for n in ctx.cluster.networks]}


def _group_data(grp: Any, nodes: list[Any]) -> dict:
    return {"name": grp.name, "state": grp.state, "owner": grp.owner,
            "resources": [{"name": r.name, "type": r.type, "state": r.state, "depends_on": list(r.depends_on),
                           "possible_owners": [n.name for n in nodes] if r.possible_owners is None
                           else list(r.possible_owners)} for r in grp.resources]}


def cluster_group_remove(ctx: OpContext, args: dict) -> dict:
    name = _arg(args, "name")
    ctx.cluster.require_cluster(ctx.node)
    return {"name": name, "existed": ctx.cluster.remove_group(name)}


def cluster_group_create_dtc(ctx: OpContext, args: dict) -> dict:
    ctx.cluster.require_cluster(ctx.node)
    name = _arg(args, "name", "string", "MSDTC")
    network_name = _arg(args, "network_name", "string", f"MSDTC-{ctx.cluster.name}")
    address = _arg(args, "ip_address", "string", None)
    disk = _arg(args, "disk")
    if len(network_name) > NETBIOS_NAME_MAX:
        raise SimError("invalid_args", f"network name '{network_name}' is longer than 15 characters (a NetBIOS name)")
    if address is not None:
        try:
            ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise SimError("invalid_args", f"argument 'ip_address' must be an IPv4 address, got '{address}'") from exc
    grp = ctx.cluster.create_dtc_group(ctx.node, name, network_name, address, disk)
    return _group_data(grp, ctx.cluster.nodes)


def cluster_resource_add(ctx: OpContext, args: dict) -> dict:
    name, kind, group = _arg(args, "name"), _arg(args, "type"), _arg(args, "group")
    depends_on = _arg(args, "depends_on", "strings", [])
    ctx.cluster.require_cluster(ctx.node)
    grp, res = ctx.cluster.add_resource(group, name, kind, depends_on)
    return {"name": res.name, "type": res.type, "group": grp.name, "state": res.state,
            "depends_on": list(res.depends_on)}


def cluster_resource_remove(ctx: OpContext, args: dict) -> dict:
    name = _arg(args, "name")
    ctx.cluster.require_cluster(ctx.node)
    return {"name": name, "existed": ctx.cluster.remove_resource(name)}


def cluster_resource_set_dependencies(ctx: OpContext, args: dict) -> dict:
    name, depends_on = _arg(args, "name"), _arg(args, "depends_on", "strings")
    ctx.cluster.require_cluster(ctx.node)
    before, res = ctx.cluster.set_dependencies(name, depends_on)
    return {"name": res.name, "before": before, "depends_on": list(res.depends_on)}


def cluster_group_move(ctx: OpContext, args: dict) -> dict:
    ctx.cluster.require_cluster(ctx.node)
    before, grp = ctx.cluster.group_move(_arg(args, "name"), _arg(args, "node"), _timeout(args, 120))
    return {"name": grp.name, "before_owner": before, "owner": grp.owner, "state": grp.state}


def cluster_group_online(ctx: OpContext, args: dict) -> dict:
    ctx.cluster.require_cluster(ctx.node)
    grp = ctx.cluster.group_online(_arg(args, "name"), _timeout(args, 120))
    return {"name": grp.name, "owner": grp.owner, "state": grp.state}


def cluster_group_offline(ctx: OpContext, args: dict) -> dict:
    ctx.cluster.require_cluster(ctx.node)
    ctx.cluster.clock.sleep(min(ctx.cluster.durations["group_offline"], _timeout(args, 120)))
    with ctx.cluster.lock:
        grp = ctx.cluster.group(_arg(args, "name"))
        ctx.cluster.take_offline(grp)
        grp.persistent_online = False
        return {"name": grp.name, "owner": grp.owner, "state": grp.state}


def cluster_node_suspend(ctx: OpContext, args: dict) -> dict:
    name = _arg(args, "name")
    mode = _arg(args, "mode", "string", "pause")
    timeout = _timeout(args, 300)
    if mode not in ("pause", "drain"):
        raise SimError("invalid_args", "argument 'mode' must be pause or drain")
    ctx.cluster.require_cluster(ctx.node)
    before, moved = ctx.cluster.suspend_node(name, mode == "drain", timeout)
    return _node_change(ctx, name, before, moved)


def cluster_node_resume(ctx: OpContext, args: dict) -> dict:
    """Policy fails back as the groups' failback policy says; the model's groups have none, so it is NoFailback."""
    name = _arg(args, "name")
    failback = _arg(args, "failback", "string", "NoFailback")
    timeout = _timeout(args, 300)
    if failback not in ("NoFailback", "Immediate", "Policy"):
        raise SimError("invalid_args", "argument 'failback' must be NoFailback, Immediate or Policy")
    ctx.cluster.require_cluster(ctx.node)
    before, moved = ctx.cluster.resume_node(name, failback == "Immediate", timeout)
    return _node_change(ctx, name, before, moved)


def _node_change(ctx: OpContext, name: str, before: str, moved: list[dict[str, str]]) -> dict:
    node = ctx.cluster.node(name)
    return {"name": node.name, "before": before, "state": node.state, "moved": moved}


def cluster_service_stop(ctx: OpContext, args: dict) -> dict:
    ctx.cluster.require_module(ctx.node)  # the agent reads the node's state through it
    before = ctx.node.state
    ctx.cluster.stop_cluster_service(ctx.node, _timeout(args, 120))
    return {"node": ctx.node.name, "before": before, "state": ctx.node.state}


def cluster_service_start(ctx: OpContext, args: dict) -> dict:
    ctx.cluster.require_module(ctx.node)  # the agent reads the node's state through it
    before = ctx.node.state
    until = _arg(args, "until", "string", "up")
    if until not in ("up", "running"):
        raise SimError("invalid_args", "argument 'until' must be up or running")
    ctx.cluster.start_cluster_service(ctx.node, _timeout(args, 120), wait_for_quorum=until == "up")
    return {"node": ctx.node.name, "before": before, "state": ctx.node.state}


OPS: dict[str, Handler] = {
    "cluster.nodes": cluster_nodes,
    "cluster.groups": cluster_groups,
    "cluster.networks": cluster_networks,
    "cluster.resource.add": cluster_resource_add,
    "cluster.resource.remove": cluster_resource_remove,
    "cluster.resource.set_dependencies": cluster_resource_set_dependencies,
    "cluster.group.remove": cluster_group_remove,
    "cluster.group.create_dtc": cluster_group_create_dtc,
    "cluster.group.move": cluster_group_move,
    "cluster.group.online": cluster_group_online,
    "cluster.group.offline": cluster_group_offline,
    "cluster.node.suspend": cluster_node_suspend,
    "cluster.node.resume": cluster_node_resume,
    "cluster.service.stop": cluster_service_stop,
    "cluster.service.start": cluster_service_start,
}
