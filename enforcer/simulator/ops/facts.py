"""facts: everything a plan needs, in one call, from the other families' ops."""

from __future__ import annotations

from ..entities import WINRM_MAX_ENVELOPE_KB, WINRM_MAX_SHELLS_PER_USER, SimError, utcnow_iso
from ..stores import norm_path
from .cluster import cluster_groups, cluster_networks, cluster_nodes
from .common import Handler, OpContext, _arg
from .dtc import dtc_get, sql_get
from .events import events_query
from .path import path_get
from .registry import registry_get
from .service import service_get

POWERSHELL_VERSION = "5.1.17763.5329"  # Windows PowerShell 5.1 as WS2019 ships it
OS_BY_BUILD = {
    17763: {"caption": "Microsoft Windows Server 2019 Datacenter", "version": "10.0.17763"},
    20348: {"caption": "Microsoft Windows Server 2022 Datacenter", "version": "10.0.20348"},
}


def facts(ctx: OpContext, args: dict) -> dict:
    services = _arg(args, "services", "strings", ["ClusSvc", "MSDTC"])
    cluster, cluster_error = None, None
    try:
        cluster = {"name": ctx.cluster.name, **cluster_nodes(ctx, {}), **cluster_groups(ctx, {}),
                   **cluster_networks(ctx, {})}
        cluster.pop("cluster")
    except SimError as exc:
        cluster_error = exc.message
    events = _arg(args, "events", "object", None)
    return {
        "hostname": ctx.node.name, "time": utcnow_iso(),
        "os": OS_BY_BUILD[ctx.node.os_build],
        "services": {name: service_get(ctx, {"name": name}) for name in services},
        "registry": {path: registry_get(ctx, {"path": path}) for path in _arg(args, "registry", "strings", [])},
        "paths": {path: _path_fact(ctx, path) for path in _arg(args, "paths", "strings", [])},
        "dtc": dtc_get(ctx, {}), "sql": sql_get(ctx, {}),
        "cluster": cluster, "cluster_error": cluster_error, "cluster_module": ctx.node.cluster_module,
        "events": events_query(ctx, events)["events"] if events is not None else [],
    }


def _path_fact(ctx: OpContext, path: str) -> dict:
    """A shared-disk path this node does not own reads as unknown, not as absent."""
    try:
        return path_get(ctx, {"path": path})
    except SimError as exc:
        return {"path": norm_path(path), "exists": None, "error": {"kind": exc.kind, "message": exc.message}}


def node_info(ctx: OpContext, args: dict) -> dict:
    """The session's account is the simulator's; whether it is an administrator here is the node's scenario's."""
    return {"user": ctx.user, "administrator": ctx.node.account_admin,
            "powershell": POWERSHELL_VERSION, "max_envelope_kb": WINRM_MAX_ENVELOPE_KB,
            "max_shells_per_user": WINRM_MAX_SHELLS_PER_USER}


OPS: dict[str, Handler] = {
    "facts": facts,
    "node.info": node_info,
}
