"""Drift: edits to the model made from outside, as an operator or a failed patch would.

Each edit is journaled like any other state change, so a test can tell the
drift it introduced from what enforcer corrected afterwards.
"""

from __future__ import annotations

from typing import Any

from .entities import Node, SimError
from .model import Cluster
from .stores import FileSystem, norm_key, norm_path

ACTIONS = ("registry.set", "registry.remove", "service.set", "dtc.set", "path.write", "path.remove",
           "node.pause", "node.resume", "group.set")


def _find_node(clusters: list[Cluster], name: str) -> tuple[Cluster, Node]:
    for cluster in clusters:
        for node in cluster.nodes:
            if node.name.lower() == name.lower():
                return cluster, node
    raise SimError("not_found", f"no simulated node named {name!r}")


def _find_cluster(clusters: list[Cluster], name: str) -> Cluster:
    for cluster in clusters:
        if cluster.name.lower() == name.lower():
            return cluster
    raise SimError("not_found", f"no simulated cluster named {name!r}")


def apply_drift(clusters: list[Cluster], change: dict[str, Any]) -> dict[str, Any]:
    """Apply one edit, e.g. `{"action": "service.set", "node": "CLU1-A", "name": "MSDTC", "status": "Stopped"}`."""
    action = change.get("action")
    if action not in ACTIONS:
        raise SimError("invalid_args", f"drift action must be one of {', '.join(ACTIONS)}")
    try:
        if action == "group.set":
            return _group_set(_find_cluster(clusters, change["cluster"]), change)
        if action == "path.write" or action == "path.remove":
            return _path_edit(clusters, action, change)
        cluster, node = _find_node(clusters, change["node"])
        with cluster.lock:
            if action == "registry.set":
                path = norm_key(change["path"])
                existed = node.registry.get(path) is not None
                node.registry.set_value(path, change["name"], change["data"], change.get("type", "REG_SZ"))
                if not existed:
                    cluster.journal.change(cluster.name, node.name, f"registry:{path}", "absent", "present")
            elif action == "registry.remove":
                cluster.remove_registry_key(node, norm_key(change["path"]))
            elif action == "service.set":
                cluster.set_service_status(node, node.service(change["name"]), change["status"])
            elif action == "dtc.set":
                (cluster.register_dtc if change["registered"] else cluster.unregister_dtc)(node)
            else:
                node.paused = action == "node.pause"
        return {"ok": True, "node": node.name, "state": node.state}
    except KeyError as exc:
        raise SimError("invalid_args", f"drift {action}: missing field {exc.args[0]!r}") from exc


def _path_edit(clusters: list[Cluster], action: str, change: dict[str, Any]) -> dict[str, Any]:
    """Paths on a clustered disk are edited on the cluster (`cluster`), others on a node (`node`)."""
    if "cluster" in change:
        cluster, node = _find_cluster(clusters, change["cluster"]), None
        fs = cluster.disks.setdefault(norm_path(change["path"])[:2].upper(), FileSystem())
    else:
        cluster, node = _find_node(clusters, change["node"])
        fs = node.fs
    path = norm_path(change["path"])
    with cluster.lock:
        existed = fs.get(path) is not None
        if action == "path.write":
            fs.write(path, str(change.get("content", "")).encode("utf-8"))
            now_exists = True
        else:
            now_exists = not fs.remove(path) and existed
        cluster.journal.change(cluster.name, node.name if node else None, f"path:{path}",
                               "present" if existed else "absent", "present" if now_exists else "absent")
    return {"ok": True, "path": path}


def _group_set(cluster: Cluster, change: dict[str, Any]) -> dict[str, Any]:
    with cluster.lock:
        grp = cluster.group(change["name"])
        if "owner" in change:
            grp.owner = cluster.node(change["owner"]).name
        if "state" in change:
            for res in grp.resources:
                res.state = change["state"]
            cluster.set_group_state(grp, change["state"])
        return {"ok": True, "group": grp.name, "state": grp.state, "owner": grp.owner}
