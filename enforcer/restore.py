"""`enforcer restore RUN_ID`: put back what a run deleted, from the backups it took on the nodes.

A run's report lists every backup: a .reg export for each registry key
deleted, a zip for each folder removed, each on the node that made it. A
restore imports or expands them there, then reads each item back to check
it is present again.

A DTC log is the one backup never put back: it records the outcome of
transactions and is stale within seconds, so a restored copy would make DTC
decide in-doubt transactions wrongly. Microsoft forbids it ("Restoring
Damaged DTC Log Files"); the backup stays on the node for forensics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import EnforcerError, InputError
from .runs import load_record
from .statedir import StateDir
from .transport.base import AgentOp
from .transport.pool import Connections

# MSDTCLog on a disk (a clustered DTC's log folder), or the local DTC's log under System32\Msdtc.
_DTC_LOG = re.compile(r"(^|\\)(msdtclog|system32\\msdtc|msdtc\\[0-9a-f-]{36})(\\|$)", re.IGNORECASE)


@dataclass
class Restored:
    backup: dict[str, Any]
    ok: bool
    message: str
    kept: bool = False  # deliberately not restored: the backup stays on the node


def is_dtc_log(path: str) -> bool:
    return bool(_DTC_LOG.search(path.rstrip("\\")))


def load_backups(state: StateDir, run_id: str, only: str | None) -> tuple[str, list[dict[str, Any]]]:
    """(inventory the run used, its backups, filtered by --only)."""
    run = load_record(state, run_id, "run")
    backups = [b for c in run["clusters"] for b in c.get("backups", [])]
    if only:
        backups = [b for b in backups if b["path"].lower() == only.lower()]
        if not backups:
            raise InputError(f"run {run_id} took no backup of {only!r}")
    return run["inventory"], backups


def restore(backups: list[dict[str, Any]], connections: Connections) -> list[Restored]:
    """Restore in reverse order of deletion, each through the node that holds its backup."""
    results = []
    for backup in reversed(backups):
        if backup["kind"] == "dtc_log" or backup["kind"] == "path" and is_dtc_log(backup["path"]):
            results.append(Restored(backup, False, f"a DTC log is never restored from a backup: it records the "
                                                   f"outcome of transactions, and a stale copy would make DTC decide "
                                                   f"in-doubt ones wrongly (Microsoft: Restoring Damaged DTC Log "
                                                   f"Files); reset the log instead (Reset-DtcLog); the backup stays "
                                                   f"at {backup['file']} for forensics", kept=True))
            continue
        if backup["kind"] == "registry":
            ops = [AgentOp("registry.import", {"file": backup["file"]}),
                   AgentOp("registry.get", {"path": backup["path"]})]
        else:
            ops = [AgentOp("path.restore", {"archive": backup["file"], "dest": backup["restore_to"]}),
                   AgentOp("path.get", {"path": backup["path"]})]
        try:
            answers = connections.get(backup["node"]).call(ops, stop_on_error=True)
        except EnforcerError as exc:
            results.append(Restored(backup, False, str(exc)))
            continue
        failed = next((a for a in answers if not a.ok), None)
        if failed:
            results.append(Restored(backup, False, f"{failed.op} failed ({failed.error_kind}): {failed.error_message}"))
        elif not answers[-1].unwrap(backup["node"])["exists"]:
            results.append(Restored(backup, False, f"{backup['path']} is still absent after the restore"))
        else:
            results.append(Restored(backup, True, f"restored from {backup['file']}"))
    return results
