"""`enforcer restore RUN_ID`: put back what a run deleted, from the backups it took on the nodes.

A run's report lists every backup: a .reg export for each registry key
deleted, a zip for each folder removed, each on the node that made it. A
restore imports or expands them there, then reads each item back to check
it is present again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import EnforcerError, InputError
from .runs import load_record
from .statedir import StateDir
from .transport.base import AgentOp
from .transport.pool import Connections


@dataclass
class Restored:
    backup: dict[str, Any]
    ok: bool
    message: str


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
