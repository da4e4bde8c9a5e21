"""dtc: the installed MSDTC version, installed from an installer; or reinstalled (KB step 7)."""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..transport.base import AgentOp
from .base import REGISTRY, Arg, PlanContext, Resource, Session, StepError, results_or_raise

# msdtc -uninstall removes these; they are exported first so nothing is lost.
DTC_KEYS = ("HKLM\\Software\\Microsoft\\MSDTC", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSDTC")


class Dtc(Resource):
    type = "dtc"
    summary = "MSDTC at a version (installed when it differs), or removed completely and installed again."
    args = {
        "version": Arg(str, required=True, doc="msdtc.exe's file version, e.g. 2001.12.4414.700"),
        "installer": Arg(str, required=True, doc="the installer's path on the node (or a share)"),
        "arguments": Arg(list, default=[]),
        "accepted_exit_codes": Arg(list, default=[0, 3010], doc="3010 means a reboot is required"),
        "state": Arg(str, default="present", choices=("present", "reinstall")),
        "timeout_s": Arg(int, default=900),
    }

    reads = (REGISTRY,)
    needs_args = ("version",)

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        return {REGISTRY.name: set(DTC_KEYS)}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        assert node is not None, "a node-scoped resource is planned once per node"
        facts = ctx.state.nodes[node]
        installed = facts["dtc"].get("version")
        missing_keys = [k for k in DTC_KEYS if not facts["registry"].get(k, {}).get("exists", True)]
        params = {k: args[k] for k in ("installer", "arguments", "accepted_exit_codes", "timeout_s", "version")}
        facts["dtc"] = {**facts["dtc"], "installed": True, "version": args["version"]}
        for key in missing_keys:  # the installer writes its keys where there are none
            facts["registry"][key] = {"path": key, "exists": True, "values": {
                "Version": {"type": "REG_SZ", "data": args["version"]}}, "subkeys": []}
        if args["state"] == "reinstall":
            backups = [ctx.backup_path(node, "registry", key, ".reg") for key in DTC_KEYS]
            return [ctx.change(node, node, ["delete", "create"], installed, args["version"],
                               "reinstall requested (KB step 7): remove MSDTC completely and install it again",
                               destructive=True, backups=backups, params=params)]
        if installed == args["version"] and not missing_keys:
            return f"MSDTC {installed} is installed"
        reason = (f"MSDTC {installed or 'absent'} is not {args['version']}" if installed != args["version"] else
                  f"MSDTC's registry keys are absent ({', '.join(missing_keys)}): installing writes them")
        return [ctx.change(node, node, ["update"], installed, args["version"], reason, params=params)]

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        if "delete" in change.actions:  # a reinstall ends at the version it started from: nothing to tell by
            return super().settled(change, session)
        data = results_or_raise(change.via, session.call(change.via, [AgentOp("dtc.get")]))
        if data[0].get("version") != change.params["version"]:
            return None
        return {"version": data[0]["version"], "exit_code": None, "reboot_required": None}

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        p = change.params
        ops = []
        # An update has no backups (nothing is exported); a reinstall has one per key.
        for key, dest in zip(DTC_KEYS, change.backups, strict=False):
            ops.append(AgentOp("registry.export", {"path": key, "dest": dest}))
        if "delete" in change.actions:
            ops.append(AgentOp("dtc.uninstall", {"timeout_s": p["timeout_s"]}))
        ops += [AgentOp("dtc.install", {"installer": p["installer"], "arguments": p["arguments"],
                                        "accepted_exit_codes": p["accepted_exit_codes"], "timeout_s": p["timeout_s"]}),
                AgentOp("dtc.get")]
        data = results_or_raise(change.via, session.call(change.via, ops, timeout_s=2 * p["timeout_s"] + 60))
        install, after = data[-2], data[-1]
        if after.get("version") != p["version"]:
            raise StepError(f"{change.via}: the installer exited {install['exit_code']} but msdtc.exe is "
                            f"{after.get('version')}, not {p['version']}")
        result: dict[str, Any] = {"version": after["version"], "exit_code": install["exit_code"],
                                  "reboot_required": install["reboot_required"]}
        # The exports' results come first in data, followed by those of the uninstall, install and get.
        exports = zip(DTC_KEYS, change.backups, data, strict=False)
        backups = [{"node": change.via, "kind": "registry", "path": key, "file": dest, "bytes": d.get("bytes", 0)}
                   for key, dest, d in exports if d.get("exported")]
        if backups:
            result["backups"] = backups
        return result
