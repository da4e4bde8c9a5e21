"""dtc_log: a clustered DTC's log made new (Reset-DtcLog), the old one archived first for forensics.

The modern form of KB Q252641's step 3. A DTC log is never restored from a
copy: it records the outcome of transactions and is stale within seconds
(windows-facts §1.7), so `enforcer restore` keeps the archive without putting
it back. Resetting loses the outcome of in-doubt transactions, hence a
destructive change, planned only when the symptom says so (`when:`).
"""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..transport.base import AgentOp
from .base import Arg, PlanContext, PlanError, Resource, Session, path_backup, results_or_raise


class DtcLog(Resource):
    type = "dtc_log"
    scope = "cluster"
    cluster_cmdlets = True
    summary = "A clustered DTC's log reset (Reset-DtcLog), the old log archived first through the disk's owner."
    args = {
        "dtc": Arg(str, required=True, doc="the clustered DTC resource's name"),
        "state": Arg(str, default="reset", choices=("reset",)),
        "timeout_s": Arg(int, default=120),
    }

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        """Through the owner of the DTC's role, which owns its disk: the agent archives the log where the DTC
        instance really keeps it (Get-DtcLog), then resets it."""
        wanted = args["dtc"].lower()
        group = next((g for g in ctx.state.groups.values() for r in g.get("resources", [])
                      if r["type"] == "Distributed Transaction Coordinator" and r["name"].lower() == wanted), None)
        if group is None:
            raise PlanError(f"{ctx.cluster} has no Distributed Transaction Coordinator resource named {args['dtc']!r}")
        via = group["owner"] if group["owner"] in ctx.state.up_nodes() else ctx.state.via_for_group()
        backup = ctx.backup_path(via, "dtc_log", args["dtc"], ".zip")
        return [ctx.change(None, via, ["update"], "as found", "new",
                           f"reset the log of {args['dtc']} (role {group['name']}); the outcome of in-doubt "
                           f"transactions is lost with it", destructive=True, disruptive=True, backups=[backup],
                           params={"dtc": args["dtc"], "timeout_s": args["timeout_s"]})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        p = change.params
        op = AgentOp("dtc.reset_log", {"dtc_name": p["dtc"], "backup_to": change.backups[0],
                                       "timeout_s": p["timeout_s"]})
        data = results_or_raise(change.via, session.call(change.via, [op], timeout_s=p["timeout_s"] + 60))[0]
        result: dict[str, Any] = {"log": data["log"]}
        if data["archived"]:
            result["backup"] = {**path_backup(change.via, data["log"], change.backups[0], data["bytes"]),
                                "kind": "dtc_log"}  # kept for forensics: `enforcer restore` never puts it back
        return result
