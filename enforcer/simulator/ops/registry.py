"""The registry ops: registry.get, .export, .remove, .set, .import."""

from __future__ import annotations

from .. import backup_formats
from ..entities import SimError
from ..stores import norm_key
from .common import Handler, OpContext, _arg, _fs_for


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
    return {"path": path, "existed": ctx.cluster.remove_registry_key(ctx.node, path)}


REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_DWORD", "REG_QWORD", "REG_MULTI_SZ")


def registry_set(ctx: OpContext, args: dict) -> dict:
    path = norm_key(_arg(args, "path"))
    writes = []  # every value checked before any is written, so a bad one leaves the key untouched
    for name, value in _arg(args, "values", "object").items():
        entry = value if isinstance(value, dict) else {}
        reg_type = _arg(entry, "type", "string", "REG_SZ")
        if reg_type not in REG_TYPES:
            raise SimError("invalid_args", f"unsupported registry type '{reg_type}' for value '{name}'")
        if entry.get("data") is None:
            raise SimError("invalid_args", "missing argument 'data'")
        writes.append((name, entry["data"], reg_type))
    with ctx.cluster.lock:
        created = ctx.node.registry.get(path) is None
        ctx.node.registry.create(path)  # the key is made even with no values, as the agent's New-Item does
        for name, data, reg_type in writes:
            ctx.node.registry.set_value(path, name, data, reg_type)
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


OPS: dict[str, Handler] = {
    "registry.get": registry_get,
    "registry.export": registry_export,
    "registry.remove": registry_remove,
    "registry.set": registry_set,
    "registry.import": registry_import,
}
