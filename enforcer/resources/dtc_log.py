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
from .base import PATHS, Arg, PlanContext, PlanError, Resource, Session, path_backup, results_or_raise


class DtcLog(Resource):
    type = "dtc_log"
    scope = "cluster"
    summary = "A clustered DTC's log reset (Reset-DtcLog), the old log archived first through the disk's owner."
    args = {
        "dtc": Arg(str, required=True, doc="the clustered DTC resource's name"),
        "log": Arg(str, required=True, doc="the folder of its log on the shared disk, e.g. Q:\\MSDTCLog"),
        "state": Arg(str, default="reset", choices=("reset",)),
        "timeout_s": Arg(int, default=120),
    }

    reads = (PATHS,)
    needs_args = ("log",)

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        return {PATHS.name: {args["log"]}}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        """Through the node that can read the log's folder: the owner of its disk."""
        log = args["log"]
        names = {r["name"].lower() for g in ctx.state.groups.values() for r in g.get("resources", [])
                 if r["type"] == "Distributed Transaction Coordinator"}
        if args["dtc"].lower() not in names:
            raise PlanError(f"{ctx.cluster} has no Distributed Transaction Coordinator resource named {args['dtc']!r}")
        via = ctx.state.reader_of(log)
        found = ctx.state.nodes[via]["paths"][log]
        backups = [ctx.backup_path(via, "path", log, ".zip")] if found["exists"] else []
        return [ctx.change(None, via, ["update"], "as found" if found["exists"] else "absent", "new",
                           f"reset the log of {args['dtc']} in {log}; the outcome of in-doubt transactions is lost "
                           f"with it", destructive=True, backups=backups,
                           params={"dtc": args["dtc"], "log": log, "timeout_s": args["timeout_s"]})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        p = change.params
        ops = [AgentOp("path.archive", {"path": p["log"], "dest": dest}) for dest in change.backups]
        ops.append(AgentOp("dtc.reset_log", {"dtc_name": p["dtc"], "timeout_s": p["timeout_s"]}))
        data = results_or_raise(change.via, session.call(change.via, ops, timeout_s=p["timeout_s"] + 60))
        result: dict[str, Any] = {"log": data[-1]["log"]}
        if change.backups and data[0].get("archived"):
            result["backup"] = {**path_backup(change.via, p["log"], change.backups[0], data[0].get("bytes", 0)),
                                "kind": "dtc_log"}  # kept for forensics: `enforcer restore` never puts it back
        return result
