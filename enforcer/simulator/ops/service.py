"""The service ops: service.get, .stop, .start."""

from __future__ import annotations

from .common import Handler, OpContext, _arg, _timeout


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


OPS: dict[str, Handler] = {
    "service.get": service_get,
    "service.stop": service_stop,
    "service.start": service_start,
}
