"""The MSDTC and SQL Server ops: dtc.get, dtc.install, dtc.uninstall, sql.get."""

from __future__ import annotations

import json

from ..entities import SimError
from ..model import DTC_KEYS
from .common import Handler, OpContext, _arg, _fs_for, _timeout

SQL_INSTANCES_KEY = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL"


def dtc_get(ctx: OpContext, args: dict) -> dict:
    version = ctx.node.dtc_version
    return {"installed": version is not None, "version": version, "path": "C:\\Windows\\System32\\msdtc.exe"}


def dtc_install(ctx: OpContext, args: dict) -> dict:
    installer = _arg(args, "installer")
    _arg(args, "arguments", "strings", [])
    accepted = _arg(args, "accepted_exit_codes", "integers", [0, 3010])
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


WID_SERVICE = "MSSQL$MICROSOFT##WID"


def sql_get(ctx: OpContext, args: dict) -> dict:
    """Instances are listed in the registry; as on Windows, a service without its registry entry still counts."""
    key = ctx.node.registry.get(SQL_INSTANCES_KEY)
    names = list(key.values) if key else []
    for svc in ctx.node.services.values():
        instance = _instance_of(svc.name)
        if instance is not None and instance not in names:
            names.append(instance)
    instances = []
    for name in names:
        service = "MSSQLSERVER" if name == "MSSQLSERVER" else f"MSSQL${name}"
        found = ctx.node.services.get(service.lower())
        instances.append({"name": name, "service": service, "status": found.status if found else None})
    return {"installed": bool(instances), "instances": instances}


def _instance_of(service: str) -> str | None:
    """The SQL Server instance a service is: MSSQLSERVER (the default instance) or MSSQL$NAME.

    MSSQL$MICROSOFT##WID is the Windows Internal Database (WSUS, ADFS, RDS), not a SQL Server instance.
    """
    if service.upper() == "MSSQLSERVER":
        return "MSSQLSERVER"
    if service.upper() == WID_SERVICE:
        return None
    return service[len("MSSQL$"):] if service.upper().startswith("MSSQL$") else None


OPS: dict[str, Handler] = {
    "dtc.get": dtc_get,
    "dtc.install": dtc_install,
    "dtc.uninstall": dtc_uninstall,
    "sql.get": sql_get,
}
