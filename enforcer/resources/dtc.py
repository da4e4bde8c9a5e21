"""dtc: MSDTC registered on a node (msdtc -install), unregistered (msdtc -uninstall), or both in turn.

MSDTC is part of Windows on WS2016-2025: msdtc.exe carries the same file
version on every build, no standalone installer exists, and "installing" it
means registering its service again. So the state is the registration, never
a version (windows-facts §1.4). Its keys are exported before an unregister:
`msdtc -uninstall` has the Service Control Manager delete the service's key,
the supported way; a key deleted by hand on a running system leaves the SCM
with a service it can no longer start until Windows restarts.
"""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..transport.base import AgentOp
from .base import PATHS, Arg, PlanContext, PlanError, Resource, Session, StepError, registry_backup, results_or_raise

DTC_KEYS = ("HKLM\\Software\\Microsoft\\MSDTC", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSDTC")


class Dtc(Resource):
    type = "dtc"
    summary = "MSDTC registered (msdtc -install), unregistered (msdtc -uninstall, keys exported first), or both."
    args = {
        "state": Arg(str, default="present", choices=("present", "absent", "reinstall")),
        "installer": Arg(str, default="", doc="a site's own installer on the node, used instead of msdtc -install"),
        "arguments": Arg(list, default=[]),
        "accepted_exit_codes": Arg(list, default=[0, 3010], doc="3010 means a reboot is required"),
        "timeout_s": Arg(int, default=900),
    }

    reads = (PATHS,)
    needs_args = ("installer",)

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        return {PATHS.name: {args["installer"]}} if args["installer"] else {}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        assert node is not None, "a node-scoped resource is planned once per node"
        facts = ctx.state.nodes[node]
        registered, wanted = bool(facts["dtc"]["installed"]), args["state"]
        params = {k: args[k] for k in ("installer", "arguments", "accepted_exit_codes", "timeout_s")}
        version = facts["dtc"].get("version")
        if wanted == "present" and registered:
            return f"MSDTC is registered (msdtc.exe {version})"
        if wanted == "absent" and not registered:
            return "MSDTC is not registered"
        if wanted != "absent":
            _check_installer(facts, node, args["installer"])
        facts["dtc"] = {**facts["dtc"], "installed": wanted != "absent"}
        service = facts["services"].get("MSDTC")
        if service is not None:  # msdtc -uninstall deletes the service; msdtc -install leaves it Stopped
            facts["services"]["MSDTC"] = {**service, "exists": wanted != "absent", "status": None if
                                          wanted == "absent" else "Stopped"}
        backups = [ctx.backup_path(node, "registry", key, ".reg") for key in DTC_KEYS] if registered else []
        if wanted == "present":
            return [ctx.change(node, node, ["create"], "unregistered", "registered",
                               "MSDTC is not registered: " + ("the installer" if args["installer"] else
                                                             "msdtc -install") + " registers it", params=params)]
        if wanted == "absent":
            return [ctx.change(node, node, ["delete"], "registered", "unregistered",
                               "unregister MSDTC with msdtc -uninstall (its keys exported first)", destructive=True,
                               disruptive=True,
                               backups=backups, params=params)]
        return [ctx.change(node, node, ["delete", "create"], "registered" if registered else "unregistered",
                           "registered", "reinstall requested: msdtc -uninstall, then msdtc -install",
                           destructive=True, disruptive=True, backups=backups, params=params)]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        p = change.params
        ops = [AgentOp("registry.export", {"path": key, "dest": dest})
               for key, dest in zip(DTC_KEYS, change.backups, strict=False)]  # none when there was nothing to save
        if "delete" in change.actions:
            ops.append(AgentOp("dtc.uninstall", {"timeout_s": p["timeout_s"]}))
        if "create" in change.actions:
            install = {k: p[k] for k in ("arguments", "accepted_exit_codes", "timeout_s")}
            ops.append(AgentOp("dtc.install", {**install, **({"installer": p["installer"]} if p["installer"] else {})}))
        ops.append(AgentOp("dtc.get"))
        data = results_or_raise(change.via, session.call(change.via, ops, timeout_s=2 * p["timeout_s"] + 60))
        after = data[-1]
        if after["installed"] != (change.after == "registered"):
            raise StepError(f"{change.via}: MSDTC is {'registered' if after['installed'] else 'not registered'} "
                            f"after {' and '.join(change.actions)}, not {change.after}")
        result: dict[str, Any] = {"registered": after["installed"], "version": after["version"]}
        if "create" in change.actions:
            result["exit_code"], result["reboot_required"] = data[-2]["exit_code"], data[-2]["reboot_required"]
        backups = [registry_backup(change.via, key, dest, d.get("bytes", 0))
                   for key, dest, d in zip(DTC_KEYS, change.backups, data, strict=False) if d.get("exported")]
        if backups:
            result["backups"] = backups
        return result

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        """In effect when the registration is as wanted; then the keys' exports must be on the node too.

        A registration is whole only with the service's key: msdtc -install killed with its shell (windows-facts
        §5.3) may leave the service without it, and is then run again to finish.
        """
        if change.actions == ["delete", "create"]:  # a reinstall ends where it started: nothing to tell by
            return super().settled(change, session)
        ops = [AgentOp("dtc.get"), AgentOp("registry.get", {"path": DTC_KEYS[1]})]
        ops += [AgentOp("path.get", {"path": dest}) for dest in change.backups]
        data = results_or_raise(change.via, session.call(change.via, ops))
        wanted, installed, whole = change.after == "registered", data[0]["installed"], data[1]["exists"]
        if (wanted and not (installed and whole)) or (not wanted and installed):
            return None
        data = [data[0]] + data[2:]
        missing = [dest for dest, found in zip(change.backups, data[1:], strict=True) if not found["exists"]]
        if missing:
            raise StepError(f"{change.via}: MSDTC is {change.after}, but the export {missing[0]} is not there")
        result: dict[str, Any] = {"registered": data[0]["installed"], "version": data[0]["version"]}
        if change.backups:
            result["backups"] = [registry_backup(change.via, key, dest, found["size"])
                                 for key, dest, found in zip(DTC_KEYS, change.backups, data[1:], strict=True)]
        return result


def _check_installer(facts: dict[str, Any], node: str, installer: str) -> None:
    """Preflight: an installer the plan relies on exists on the node, before anything is changed."""
    if not installer:
        return
    found = facts["paths"].get(installer) or {}
    if not found.get("exists"):
        why = (found.get("error") or {}).get("message") or "it does not exist"
        raise PlanError(f"the installer {installer} cannot be used on {node}: {why}")
