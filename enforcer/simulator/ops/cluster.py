"""The failover cluster ops: cluster.nodes, cluster.groups, cluster.group.*, cluster.node.*, cluster.service.*."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..entities import SimError
from .common import Handler, OpContext, _arg, _timeout


def cluster_nodes(ctx: OpContext, args: dict) -> dict:
    with ctx.cluster.lock:
        ctx.cluster.require_cluster(ctx.node)
        witness = ctx.cluster.witness
        return {"cluster": ctx.cluster.name, "local_node": ctx.node.name,
                "nodes": [{"name": n.name, "id": i + 1, "state": n.state} for i, n in enumerate(ctx.cluster.nodes)],
                "witness": {"type": witness.type, "name": witness.name, "state": "Online"} if witness else None}


def cluster_groups(ctx: OpContext, args: dict) -> dict:
    with ctx.cluster.lock:
        ctx.cluster.require_cluster(ctx.node)
        return {"groups": [_group_data(g) for g in ctx.cluster.groups.values()]}


def _group_data(grp: Any) -> dict:
    return {"name": grp.name, "state": grp.state, "owner": grp.owner,
            "resources": [{"name": r.name, "type": r.type, "state": r.state} for r in grp.resources]}


def cluster_group_remove(ctx: OpContext, args: dict) -> dict:
    name = _arg(args, "name")
    ctx.cluster.require_cluster(ctx.node)
    return {"name": name, "existed": ctx.cluster.remove_group(name)}


def cluster_group_create_dtc(ctx: OpContext, args: dict) -> dict:
    """The simulated IP Address resource has no parameters: an address is only checked, as the agent checks it."""
    ctx.cluster.require_cluster(ctx.node)
    name = _arg(args, "name", "string", "MSDTC")
    network_name = _arg(args, "network_name", "string", f"MSDTC-{ctx.cluster.name}")
    address = _arg(args, "ip_address", "string", None)
    if len(network_name) > 15:
        raise SimError("invalid_args", f"network name '{network_name}' is longer than 15 characters (a NetBIOS name)")
    if address is not None:
        try:
            ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise SimError("invalid_args", f"argument 'ip_address' must be an IPv4 address, got '{address}'") from exc
    return _group_data(ctx.cluster.create_dtc_group(ctx.node, name, network_name))


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
    before = ctx.node.state
    ctx.cluster.stop_cluster_service(ctx.node, _timeout(args, 120))
    return {"node": ctx.node.name, "before": before, "state": ctx.node.state}


def cluster_service_start(ctx: OpContext, args: dict) -> dict:
    before = ctx.node.state
    ctx.cluster.start_cluster_service(ctx.node, _timeout(args, 120))
    return {"node": ctx.node.name, "before": before, "state": ctx.node.state}


OPS: dict[str, Handler] = {
    "cluster.nodes": cluster_nodes,
    "cluster.groups": cluster_groups,
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
