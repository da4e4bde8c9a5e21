"""The event log ops: events.query."""

from __future__ import annotations

import datetime as dt

from ..entities import SimError
from .common import Handler, OpContext, _arg


def events_query(ctx: OpContext, args: dict) -> dict:
    log = _arg(args, "log", "string", "System")
    ids = _arg(args, "ids", "integers", [])
    source = _arg(args, "source", "string", None)
    since = _arg(args, "since", "string", None)
    since_boot = _arg(args, "since_boot", "boolean", False)
    limit = _arg(args, "max", "integer", 100)
    if limit < 1:
        raise SimError("invalid_args", "argument 'max' must be at least 1")
    try:
        since_t = dt.datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
    except ValueError as exc:
        raise SimError("invalid_args", f"argument 'since' is not an ISO 8601 time: {since!r}") from exc
    if since_boot:
        since_t = max(since_t, ctx.node.boot_time) if since_t else ctx.node.boot_time
    if log.lower() != "system":
        return {"events": []}
    found = [e for e in reversed(ctx.node.events)
             if (not ids or e["id"] in ids) and (source is None or e["source"].lower() == source.lower())
             and (since_t is None or dt.datetime.fromisoformat(e["time"]) >= since_t)]
    return {"events": found[:int(limit)]}


OPS: dict[str, Handler] = {
    "events.query": events_query,
}
