"""`enforcer restore RUN_ID`: put back what a run deleted, from the backups it took on the nodes.

A run's report lists every backup: a .reg export for each registry key
deleted, a zip for each folder removed, each on the node that made it, with
the SHA-256 read as soon as it was taken. A restore checks that hash (a file
changed since is refused), imports or expands the file there, then reads
each item back to check it is present again.

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
from .history import History
from .runs import load_record, record_kind
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


def load_backups(state: StateDir, run_id: str, only: str | None,
                 history: History | None = None) -> tuple[str, list[dict[str, Any]], list[str]]:
    """(inventory the run used, its backups filtered by --only, what cannot be restored exactly).

    A run that ended has them in its record; one killed before it could write it (kill -9) has them in the
    history, each written as its step took it. A backup its plan names but no step recorded (the run died
    during that step) may or may not be on the node: it is named, not guessed at.
    """
    if record_kind(state, run_id) == "run":
        run = load_record(state, run_id, "run")
        used, backups, unknown = run["inventory"], [b for c in run["clusters"] for b in c.get("backups", [])], []
    else:
        plan = load_record(state, run_id, "plan")
        backups = history.backups(run_id) if history else []
        taken = {(b["node"], b["file"].lower()) for b in backups}
        used = plan["inventory"]
        unknown = [f"{c['via']}: {file} ({c['task']}): the run ended during or before that step, so whether "
                   f"it was taken is not recorded; if the file is on the node, put it back by hand"
                   for cluster in plan["clusters"] for c in cluster["changes"] for file in c.get("backups", [])
                   if (c["via"], file.lower()) not in taken]
        if not backups and not unknown:
            raise InputError(f"run {run_id} has no record of any backup (it took none, or it was run with "
                             f"--no-history and did not finish)")
    if only:
        backups = [b for b in backups if b["path"].lower() == only.lower()]
        if not backups:
            raise InputError(f"run {run_id} took no backup of {only!r}")
    return used, backups, unknown


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
        refusal = _tampered(backup, connections)
        if refusal:
            results.append(Restored(backup, False, refusal))
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
            unchecked = "" if backup.get("sha256") else (" (not checked: the run recorded no SHA-256 for this "
                                                         "backup)")
            results.append(Restored(backup, True, f"restored from {backup['file']}{unchecked}"))
    return results


def _tampered(backup: dict[str, Any], connections: Connections) -> str | None:
    """Why the backup file must not be put back (gone, or not the file the run took), or None."""
    try:
        found = connections.get(backup["node"]).call([AgentOp("path.get", {"path": backup["file"], "sha256": True})]
                                                     )[0].unwrap(backup["node"])
    except EnforcerError as exc:
        return f"its backup {backup['file']} could not be read: {exc}"
    if not found["exists"]:
        return f"its backup {backup['file']} is no longer on {backup['node']}"
    recorded = backup.get("sha256")
    if recorded and found["sha256"] != recorded:
        return (f"refused: {backup['file']} is not the file the run took (SHA-256 {found['sha256']}, recorded "
                f"{recorded}): it was changed since; nothing was imported")
    return None
