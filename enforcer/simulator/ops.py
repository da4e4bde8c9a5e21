"""The simulator's implementation of the agent op catalogue.

Mirrors the agent (enforcer/protocol/powershell/) op for op (a test checks both
against catalogue.json). Each handler takes the node it runs on and the op's
arguments and returns the op's `data`, or raises SimError with a catalogue
error kind.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from dataclasses import dataclass
from typing import Any, Callable

from . import backup_formats
from .model import DTC_KEYS, Cluster, Node, SimError, utcnow_iso
from .stores import FileSystem, norm_key, norm_path

SQL_INSTANCES_KEY = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL"


@dataclass
class OpContext:
    cluster: Cluster
    node: Node

    def journal_change(self, obj: str, before: Any, after: Any, node: bool = True) -> None:
        self.cluster.journal.change(self.cluster.name, self.node.name if node else None, obj, before, after)


def _arg(args: dict[str, Any], name: str, kind: type | tuple = str, default: Any = ...) -> Any:
    if name not in args or args[name] is None:
        if default is ...:
            raise SimError("invalid_args", f"missing argument '{name}'")
        return default
    value = args[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise SimError("invalid_args", f"argument '{name}' has the wrong type")
    return value


def _timeout(args: dict[str, Any], default: float) -> float:
    return float(_arg(args, "timeout_s", (int, float), default))


# -- registry --------------------------------------------------------------
def registry_get(ctx: OpContext, args: dict) -> dict:
    path = norm_key(_arg(args, "path"))
    with ctx.cluster.lock:
        key = ctx.node.registry.get(path)
        if key is None:
            return {"path": path, "exists": False, "values": {}, "subkeys": []}
        return {"path": key.path, "exists": True, "values": {k: dict(v) for k, v in key.values.items()},
                "subkeys": ctx.node.registry.subkeys(path)}


def registry_export(ctx: OpContext, args: dict) -> dict:
    path, dest = norm_key(_arg(args, "path")), _arg(args, "dest")
    with ctx.cluster.lock:
        keys = ctx.node.registry.subtree(path)
        if not keys:
            return {"path": path, "dest": dest, "exported": False, "bytes": 0}
        data = backup_formats.export_reg(keys)
        _fs_for(ctx, dest).write(dest, data)
    return {"path": path, "dest": dest, "exported": True, "bytes": len(data)}


def registry_remove(ctx: OpContext, args: dict) -> dict:
    path = norm_key(_arg(args, "path"))
    with ctx.cluster.lock:
        existed = ctx.node.registry.remove(path)
    if existed:
        ctx.journal_change(f"registry:{path}", "present", "absent")
    return {"path": path, "existed": existed}


REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_DWORD", "REG_QWORD", "REG_MULTI_SZ")


def registry_set(ctx: OpContext, args: dict) -> dict:
    path = norm_key(_arg(args, "path"))
    values = _arg(args, "values", dict)
    for name, value in values.items():
        if not isinstance(value, dict) or "data" not in value or value.get("type", "REG_SZ") not in REG_TYPES:
            raise SimError("invalid_args", f"value '{name}' must be {{type, data}} with a type of {', '.join(REG_TYPES)}")
    with ctx.cluster.lock:
        created = ctx.node.registry.get(path) is None
        for name, value in values.items():
            ctx.node.registry.set_value(path, name, value["data"], value.get("type", "REG_SZ"))
    if created:
        ctx.journal_change(f"registry:{path}", "absent", "present")
    return {"path": path, "created": created}


def registry_import(ctx: OpContext, args: dict) -> dict:
    file = _arg(args, "file")
    with ctx.cluster.lock:
        entry = _fs_for(ctx, file).get(file)
        if entry is None or entry.is_dir:
            raise SimError("not_found", f"ERROR: Error opening the file {file}.")
        before = {k.lower() for k in ctx.node.registry.snapshot()}
        try:
            keys = backup_formats.import_reg(entry.data, ctx.node.registry)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SimError("failed", f"ERROR: Error accessing the registry: {file} is not a registry file.") from exc
    for key in keys:
        if key.lower() not in before:
            ctx.journal_change(f"registry:{key}", "absent", "present")
    return {"file": file, "imported": True, "keys": keys}


# -- paths -----------------------------------------------------------------
def _fs_for(ctx: OpContext, path: str) -> FileSystem:
    """The shared disk answers only through the node that owns it, as on a real cluster."""
    if norm_path(path)[:2].upper() != ctx.cluster.shared_drive:
        return ctx.node.fs
    owner = ctx.cluster.disk_owner()
    if owner is None or owner.lower() != ctx.node.name.lower():
        raise SimError("unavailable", f"The device is not ready: {ctx.cluster.shared_drive} is owned by "
                                      f"{owner or 'no node'}, not {ctx.node.name}.")
    return ctx.cluster.shared_fs


def path_get(ctx: OpContext, args: dict) -> dict:
    path = norm_path(_arg(args, "path"))
    with ctx.cluster.lock:
        entries = _fs_for(ctx, path).subtree(path)
    if not entries:
        return {"path": path, "exists": False, "type": None, "size": 0, "items": 0, "modified": None}
    top = entries[0]
    return {"path": top.path, "exists": True, "type": "directory" if top.is_dir else "file",
            "size": sum(len(e.data) for e in entries), "items": len(entries) - 1,
            "modified": dt.datetime.fromtimestamp(top.mtime, dt.timezone.utc).isoformat()}


def path_archive(ctx: OpContext, args: dict) -> dict:
    path, dest = norm_path(_arg(args, "path")), _arg(args, "dest")
    with ctx.cluster.lock:
        fs = _fs_for(ctx, path)
        if fs.get(path) is None:
            return {"path": path, "dest": dest, "archived": False, "bytes": 0}
        data = backup_formats.archive(fs, path)
        _fs_for(ctx, dest).write(dest, data)
    return {"path": path, "dest": dest, "archived": True, "bytes": len(data)}


def path_remove(ctx: OpContext, args: dict) -> dict:
    path = norm_path(_arg(args, "path"))
    with ctx.cluster.lock:
        fs = _fs_for(ctx, path)
        existed = fs.remove(path)
    if existed:
        ctx.journal_change(f"path:{path}", "present", "absent", node=fs is ctx.node.fs)
    return {"path": path, "existed": existed}


def path_restore(ctx: OpContext, args: dict) -> dict:
    archive, dest = _arg(args, "archive"), norm_path(_arg(args, "dest"))
    with ctx.cluster.lock:
        entry = _fs_for(ctx, archive).get(archive)
        if entry is None:
            raise SimError("not_found", f"The path '{archive}' either does not exist or is not a valid file system path.")
        fs = _fs_for(ctx, dest)
        existing = {p.lower() for p in fs.snapshot()}
        try:
            tops = backup_formats.restore(fs, entry.data, dest)
        except zipfile.BadZipFile as exc:
            raise SimError("failed", f"'{archive}' is not a valid zip archive.") from exc
    for top in tops:
        if top.lower() not in existing:
            ctx.journal_change(f"path:{top}", "absent", "present", node=fs is ctx.node.fs)
    return {"archive": archive, "dest": dest, "restored": True}


# -- services ----------------------------------------------------------------
def service_get(ctx: OpContext, args: dict) -> dict:
    name = _arg(args, "name")
    svc = ctx.node.services.get(name.lower())
    if svc is None:
        return {"name": name, "exists": False, "status": None, "start_type": None, "display_name": None}
    return {"name": svc.name, "exists": True, "status": svc.status, "start_type": svc.start_type,
            "display_name": svc.display_name}


def service_stop(ctx: OpContext, args: dict) -> dict:
    name = _arg(args, "name")
    before = ctx.cluster.stop_service(ctx.node, name, _timeout(args, 60))
    return {"name": name, "before": before, "status": ctx.node.service(name).status}


def service_start(ctx: OpContext, args: dict) -> dict:
    name = _arg(args, "name")
    before = ctx.cluster.start_service(ctx.node, name, _timeout(args, 60))
    return {"name": name, "before": before, "status": ctx.node.service(name).status}


# -- DTC and SQL Server ------------------------------------------------------
def dtc_get(ctx: OpContext, args: dict) -> dict:
    version = ctx.node.dtc_version
    return {"installed": version is not None, "version": version, "path": "C:\\Windows\\System32\\msdtc.exe"}


def dtc_install(ctx: OpContext, args: dict) -> dict:
    installer = _arg(args, "installer")
    _arg(args, "arguments", list, [])
    accepted = _arg(args, "accepted_exit_codes", list, [0, 3010])
    with ctx.cluster.lock:
        entry = _fs_for(ctx, installer).get(installer)
        if entry is None or entry.is_dir:
            raise SimError("not_found", f"This command cannot be run due to the error: The system cannot find "
                                        f"the file specified ({installer}).")
        try:
            manifest = json.loads(entry.data)
            version, exit_code = str(manifest["version"]), int(manifest.get("exit_code", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise SimError("failed", f"{installer} is not a valid Win32 application.") from exc
    ctx.cluster.clock.sleep(min(ctx.cluster.durations["dtc_install"], _timeout(args, 600)))
    if exit_code not in accepted:
        raise SimError("failed", f"{installer} exited with code {exit_code}, not one of {accepted}.")
    with ctx.cluster.lock:
        before = ctx.node.dtc_version
        ctx.cluster.set_dtc_version(ctx.node, version)
        for key in DTC_KEYS:  # an installer configures only what is not there: leftovers stay stale
            if ctx.node.registry.get(key) is None:
                ctx.node.registry.set_value(key, "Version", version)
                ctx.journal_change(f"registry:{key}", "absent", "present")
    return {"exit_code": exit_code, "reboot_required": exit_code == 3010, "version_before": before,
            "version": version}


def dtc_uninstall(ctx: OpContext, args: dict) -> dict:
    ctx.cluster.clock.sleep(min(ctx.cluster.durations["dtc_uninstall"], _timeout(args, 300)))
    with ctx.cluster.lock:
        before = ctx.node.dtc_version
        ctx.cluster.set_dtc_version(ctx.node, None)
        for key in DTC_KEYS:
            if ctx.node.registry.remove(key):
                ctx.journal_change(f"registry:{key}", "present", "absent")
    return {"exit_code": 0, "version_before": before}


def sql_get(ctx: OpContext, args: dict) -> dict:
    key = ctx.node.registry.get(SQL_INSTANCES_KEY)
    instances = []
    for name in (key.values if key else {}):
        service = "MSSQLSERVER" if name == "MSSQLSERVER" else f"MSSQL${name}"
        svc = ctx.node.services.get(service.lower())
        instances.append({"name": name, "service": service, "status": svc.status if svc else None})
    return {"installed": bool(instances), "instances": instances}


def events_query(ctx: OpContext, args: dict) -> dict:
    log = _arg(args, "log", str, "System")
    ids = _arg(args, "ids", list, [])
    source = _arg(args, "source", str, None)
    since = _arg(args, "since", str, None)
    limit = _arg(args, "max", int, 100)
    try:
        since_t = dt.datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
    except ValueError as exc:
        raise SimError("invalid_args", f"argument 'since' is not an ISO 8601 time: {since!r}") from exc
    if log.lower() != "system":
        return {"events": []}
    found = [e for e in reversed(ctx.node.events)
             if (not ids or e["id"] in ids) and (source is None or e["source"].lower() == source.lower())
             and (since_t is None or dt.datetime.fromisoformat(e["time"]) >= since_t)]
    return {"events": found[:limit]}


# -- cluster -------------------------------------------------------------------
def cluster_nodes(ctx: OpContext, args: dict) -> dict:
    with ctx.cluster.lock:
        ctx.cluster.require_cluster(ctx.node)
        return {"cluster": ctx.cluster.name, "local_node": ctx.node.name,
                "nodes": [{"name": n.name, "id": i + 1, "state": n.state} for i, n in enumerate(ctx.cluster.nodes)]}


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
    ctx.cluster.require_cluster(ctx.node)
    name = _arg(args, "name", str, "MSDTC")
    grp = ctx.cluster.create_dtc_group(ctx.node, name, _arg(args, "network_name", str, f"MSDTC-{ctx.cluster.name}"),
                                       _arg(args, "ip_address", str, "10.0.0.50"))
    return _group_data(grp)


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


def cluster_service_stop(ctx: OpContext, args: dict) -> dict:
    before = ctx.node.state
    ctx.cluster.stop_cluster_service(ctx.node, _timeout(args, 120))
    return {"node": ctx.node.name, "before": before, "state": ctx.node.state}


def cluster_service_start(ctx: OpContext, args: dict) -> dict:
    before = ctx.node.state
    ctx.cluster.start_cluster_service(ctx.node, _timeout(args, 120))
    return {"node": ctx.node.name, "before": before, "state": ctx.node.state}


# -- everything at once ----------------------------------------------------------
def facts(ctx: OpContext, args: dict) -> dict:
    services = _arg(args, "services", list, ["ClusSvc", "MSDTC"])
    cluster, cluster_error = None, None
    try:
        cluster = {"name": ctx.cluster.name, **cluster_nodes(ctx, {}), **cluster_groups(ctx, {})}
        cluster.pop("cluster")
    except SimError as exc:
        cluster_error = exc.message
    events = _arg(args, "events", dict, None)
    return {
        "hostname": ctx.node.name, "time": utcnow_iso(),
        "os": {"caption": "Microsoft Windows Server 2019 Datacenter", "version": "10.0.17763"},
        "services": {name: service_get(ctx, {"name": name}) for name in services},
        "registry": {path: registry_get(ctx, {"path": path}) for path in _arg(args, "registry", list, [])},
        "paths": {path: _path_fact(ctx, path) for path in _arg(args, "paths", list, [])},
        "dtc": dtc_get(ctx, {}), "sql": sql_get(ctx, {}),
        "cluster": cluster, "cluster_error": cluster_error,
        "events": events_query(ctx, events)["events"] if events is not None else [],
    }


def _path_fact(ctx: OpContext, path: str) -> dict:
    """A shared-disk path this node does not own reads as unknown, not as absent."""
    try:
        return path_get(ctx, {"path": path})
    except SimError as exc:
        return {"path": norm_path(path), "exists": None, "error": {"kind": exc.kind, "message": exc.message}}


Handler = Callable[[OpContext, dict], dict]
OPS: dict[str, Handler] = {
    "facts": facts,
    "registry.get": registry_get, "registry.export": registry_export,
    "registry.remove": registry_remove, "registry.set": registry_set, "registry.import": registry_import,
    "path.get": path_get, "path.archive": path_archive, "path.remove": path_remove, "path.restore": path_restore,
    "service.get": service_get, "service.stop": service_stop, "service.start": service_start,
    "dtc.get": dtc_get, "dtc.install": dtc_install, "dtc.uninstall": dtc_uninstall,
    "sql.get": sql_get, "events.query": events_query,
    "cluster.nodes": cluster_nodes, "cluster.groups": cluster_groups,
    "cluster.group.remove": cluster_group_remove, "cluster.group.create_dtc": cluster_group_create_dtc,
    "cluster.group.move": cluster_group_move, "cluster.group.online": cluster_group_online,
    "cluster.group.offline": cluster_group_offline,
    "cluster.service.stop": cluster_service_stop, "cluster.service.start": cluster_service_start,
}
