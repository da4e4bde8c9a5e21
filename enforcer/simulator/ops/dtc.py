"""The MSDTC and SQL Server ops: dtc.get, dtc.install, dtc.uninstall, dtc.reset_log, sql.get."""

from __future__ import annotations

import json

from ...protocol.wsfc import DTC_TYPE
from ..entities import SimError
from ..msdtc import DTC_LOG_BYTES, LOCAL_DTC_LOG, MSDTC_FILE_VERSION
from .common import Handler, OpContext, _arg, _fs_for, _timeout
from .path import path_archive

MSDTC_EXE = "C:\\Windows\\System32\\msdtc.exe"
SQL_INSTANCES_KEY = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL"


def dtc_get(ctx: OpContext, args: dict) -> dict:
    """msdtc.exe's file version is the same on every node (windows-facts §1.4): only the registration varies."""
    return {"installed": "msdtc" in ctx.node.services, "version": MSDTC_FILE_VERSION, "path": MSDTC_EXE}


def dtc_install(ctx: OpContext, args: dict) -> dict:
    """`msdtc -install` (MSDTC is part of Windows), or an installer where a site has one: either registers the
    service again (the rules: MsdtcRules.register_dtc)."""
    installer = _arg(args, "installer", "string", None)
    _arg(args, "arguments", "strings", [])
    accepted = _arg(args, "accepted_exit_codes", "integers", [0, 3010])
    timeout = _timeout(args, 600)
    exit_code = _installer_exit_code(ctx, installer) if installer else 0
    # The installer (msdtc.exe) is the agent's child: killed with its shell, it may leave the service registered
    # and its keys not yet written.
    half = min(ctx.cluster.durations["dtc_install"], timeout) / 2
    ctx.cluster.clock.sleep(half, killable=True)
    if exit_code not in accepted:
        raise SimError("failed", f"{installer} exited with code {exit_code}, not one of {accepted}.")
    with ctx.cluster.lock:
        before = ctx.cluster.register_dtc(ctx.node, defaults=False)
    ctx.cluster.clock.sleep(half, killable=True)
    with ctx.cluster.lock:
        ctx.cluster.write_dtc_defaults(ctx.node)
    return {"exit_code": exit_code, "reboot_required": exit_code == 3010, "registered_before": before,
            "registered": True}


def _installer_exit_code(ctx: OpContext, installer: str) -> int:
    with ctx.cluster.lock:
        entry = _fs_for(ctx, installer).get(installer)
        if entry is None or entry.is_dir:
            raise SimError("not_found", f"This command cannot be run due to the error: The system cannot find "
                                        f"the file specified ({installer}).")
        try:
            return int(json.loads(entry.data).get("exit_code", 0))
        except (ValueError, TypeError, AttributeError) as exc:
            raise SimError("failed", f"{installer} is not a valid Win32 application.") from exc


def dtc_uninstall(ctx: OpContext, args: dict) -> dict:
    """`msdtc -uninstall` (the rules: MsdtcRules.unregister_dtc)."""
    ctx.cluster.clock.sleep(min(ctx.cluster.durations["dtc_uninstall"], _timeout(args, 300)), killable=True)
    with ctx.cluster.lock:
        before = ctx.cluster.unregister_dtc(ctx.node)
    return {"exit_code": 0, "registered_before": before}


def dtc_reset_log(ctx: OpContext, args: dict) -> dict:
    """`Reset-DtcLog -DtcName NAME` for a clustered DTC (its log on its disk, reached through the disk's owner),
    the local one's without a name; the old log's folder archived to `backup_to` first. A new log loses the
    outcome of in-doubt transactions."""
    dtc_name = _arg(args, "dtc_name", "string", None)
    backup_to = _arg(args, "backup_to", "string", None)
    ctx.cluster.clock.sleep(min(ctx.cluster.durations["dtc_reset_log"], _timeout(args, 120)), killable=True)
    with ctx.cluster.lock:
        found = ctx.cluster.find_resource(dtc_name) if dtc_name is not None else None
        if dtc_name is not None and (found is None or found[1].type != DTC_TYPE):
            raise SimError("not_found", f"no DTC instance {dtc_name} on this node")
        folder = LOCAL_DTC_LOG.rpartition("\\")[0] if found is None else ctx.cluster.dtc_log_folder(*found)
        if folder is None:
            raise SimError("failed", f"the DTC {dtc_name} depends on no disk to keep its log on")
        fs = _fs_for(ctx, folder)  # a clustered DTC's disk answers only through its owner
        archived = path_archive(ctx, {"path": folder, "dest": backup_to}) if backup_to else {"archived": False,
                                                                                              "bytes": 0}
        if found is None:
            fs.write(LOCAL_DTC_LOG, DTC_LOG_BYTES)
        else:
            ctx.cluster.reset_dtc_log(*found)
    return {"dtc_name": dtc_name, "log": folder, "archived": archived["archived"], "bytes": archived["bytes"]}


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
    "dtc.reset_log": dtc_reset_log,
    "sql.get": sql_get,
}
