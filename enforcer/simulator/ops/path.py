"""The path ops: path.get, .archive, .remove, .restore."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile

from .. import backup_formats
from ..entities import SimError
from ..stores import norm_path
from .common import Handler, OpContext, _arg, _fs_for


def path_get(ctx: OpContext, args: dict) -> dict:
    path, hash_it = norm_path(_arg(args, "path")), _arg(args, "sha256", "boolean", False)
    with ctx.cluster.lock:
        entries = _fs_for(ctx, path).subtree(path)
    if not entries:
        return {"path": path, "exists": False, "type": None, "size": 0, "items": 0, "modified": None, "sha256": None}
    top = entries[0]
    return {"path": top.path, "exists": True, "type": "directory" if top.is_dir else "file",
            "size": sum(len(e.data) for e in entries), "items": len(entries) - 1,
            "modified": dt.datetime.fromtimestamp(top.mtime, dt.timezone.utc).isoformat(),
            "sha256": hashlib.sha256(top.data).hexdigest() if hash_it and not top.is_dir else None}


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
            raise SimError("not_found", f"The path '{archive}' either does not exist or is not a valid file system "
                                        "path.")
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


OPS: dict[str, Handler] = {
    "path.get": path_get,
    "path.archive": path_archive,
    "path.remove": path_remove,
    "path.restore": path_restore,
}
