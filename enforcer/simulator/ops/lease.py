"""The lease ops: lease.acquire, .renew, .release (the agent's lease.ps1).

The lease lives where the agent keeps it, in the node's registry, so it can be
read, backed up and removed like any other key; the node's clock (real UTC,
as the simulated nodes' event times) judges expiry. The cluster's lock makes
read and write one step, as the agent's named mutex does.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..entities import Node
from .common import Handler, OpContext, _arg

LEASE_KEY = "HKLM\\SOFTWARE\\enforcer\\Lease"


def _read(node: Node) -> tuple[dict[str, Any], dt.datetime] | None:
    key = node.registry.get(LEASE_KEY)
    if key is None or "Holder" not in key.values or "Expires" not in key.values:
        return None
    holder = json.loads(key.values["Holder"]["data"])
    return holder, dt.datetime.fromisoformat(key.values["Expires"]["data"])


def _write(node: Node, holder: dict[str, Any], ttl_s: float) -> dt.datetime:
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=ttl_s)
    node.registry.set_value(LEASE_KEY, "Holder", json.dumps(holder, separators=(",", ":")))
    node.registry.set_value(LEASE_KEY, "Expires", expires.isoformat())
    return expires


def _answer(held: bool, lease: tuple[dict[str, Any], dt.datetime] | None,
            taken_over: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"held": held, "holder": lease[0] if lease else None,
            "expires": lease[1].isoformat() if lease else None, "taken_over": taken_over}


def lease_acquire(ctx: OpContext, args: dict) -> dict:
    run_id, holder = _arg(args, "run_id"), _arg(args, "holder", "object")
    ttl_s = _arg(args, "ttl_s", "number", 60)
    with ctx.cluster.lock:
        lease = _read(ctx.node)
        taken_over = None
        if lease and lease[0].get("run_id") != run_id:
            if lease[1] > dt.datetime.now(dt.timezone.utc):
                return _answer(False, lease)
            taken_over = lease[0]
        return _answer(True, (holder, _write(ctx.node, holder, ttl_s)), taken_over)


def lease_renew(ctx: OpContext, args: dict) -> dict:
    run_id, step = _arg(args, "run_id"), _arg(args, "step", "string", None)
    ttl_s = _arg(args, "ttl_s", "number", 60)
    with ctx.cluster.lock:
        lease = _read(ctx.node)
        if lease is None or lease[0].get("run_id") != run_id:
            return _answer(False, lease)
        holder = {**lease[0], "step": step} if step is not None else lease[0]
        return _answer(True, (holder, _write(ctx.node, holder, ttl_s)))


def lease_release(ctx: OpContext, args: dict) -> dict:
    run_id, force = _arg(args, "run_id", "string", None), _arg(args, "force", "boolean", False)
    with ctx.cluster.lock:
        lease = _read(ctx.node)
        if lease and not force and lease[0].get("run_id") != run_id:
            return _answer(False, lease)
        ctx.node.registry.remove(LEASE_KEY)
        return _answer(False, None, lease[0] if lease and lease[0].get("run_id") != run_id else None)


OPS: dict[str, Handler] = {
    "lease.acquire": lease_acquire,
    "lease.renew": lease_renew,
    "lease.release": lease_release,
}
