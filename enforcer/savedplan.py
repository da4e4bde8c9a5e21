"""Saved plans: the change that was approved is the change that runs (Terraform's saved plan, for clusters).

`enforcer plan ... --save-plan FILE` writes the plan with what it was made from: the playbook's and the
inventory's SHA-256, the `-e`, `--limit` and tags it was made with, and each change with a digest of what it
depends on (its target, what it found there, what it will leave). `enforcer apply --plan FILE` makes the plan
again from the nodes as they are now and applies it only if it is the same plan, change for change: a node
that drifted since the review (a service stopped, a node paused, a key written), a playbook or inventory
edited, shows up as a difference, and the saved plan is refused as stale with nothing changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .model import Change, Plan
from .report import plan_json

FORMAT = "enforcer-saved-plan/1"


def file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def change_identity(change: Change) -> dict[str, Any]:
    """What a change is, apart from the run that carries it out (backups are named after their run)."""
    return {"cluster": change.cluster, "task": change.task, "type": change.type, "node": change.node,
            "via": change.via, "actions": change.actions, "before": change.before, "after": change.after,
            "destructive": change.destructive, "disruptive": change.disruptive}


def change_digest(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class SavedPlan:
    id: str
    created: str
    playbook: str
    playbook_sha256: str
    inventory: str
    inventory_sha256: str
    extra_vars: list[str]
    limit: str | None
    tags: list[str]
    skip_tags: list[str]
    changes: list[dict[str, Any]]  # change_identity() of each, with its "sha256"


def save(path: str, plan: Plan, run_id: str, extra_vars: list[str], limit: str | None, tags: list[str],
         skip_tags: list[str]) -> SavedPlan:
    changes = [{**identity, "sha256": change_digest(identity)} for identity in map(change_identity, plan.changes)]
    saved = SavedPlan(run_id, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                      str(Path(plan.playbook).resolve()), file_digest(plan.playbook),
                      str(Path(plan.inventory).resolve()), file_digest(plan.inventory), list(extra_vars), limit,
                      sorted(tags), sorted(skip_tags), changes)
    document = {"format": FORMAT, **saved.__dict__, "plan": plan_json(plan)}
    Path(path).write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return saved


def load(path: str) -> SavedPlan:
    """A saved plan; InputError, naming the file, when it is not one."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such saved plan") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a saved plan ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"{path}: not a saved plan (expected format {FORMAT!r}, as `enforcer plan --save-plan` "
                         f"writes)")
    try:
        return SavedPlan(**{k: document[k] for k in SavedPlan.__dataclass_fields__})
    except KeyError as exc:
        raise InputError(f"{path}: the saved plan lacks {exc.args[0]!r}") from None


def stale_sources(saved: SavedPlan) -> list[str]:
    """Why the files the plan was made from are no longer the ones it was made from (before any connection)."""
    reasons = []
    for what, path, digest in (("playbook", saved.playbook, saved.playbook_sha256),
                               ("inventory", saved.inventory, saved.inventory_sha256)):
        if not Path(path).is_file():
            reasons.append(f"the {what} {path} is gone")
        elif file_digest(path) != digest:
            reasons.append(f"the {what} {path} changed since the plan was saved")
    return reasons


def differences(saved: SavedPlan, plan: Plan) -> list[str]:
    """How the plan made now differs from the saved one, change by change; none: the same plan."""
    now = [change_identity(c) for c in plan.changes]
    then = saved.changes
    reasons = [f"cluster {cp.cluster} cannot be planned now: {cp.error}" for cp in plan.clusters if cp.error]
    wanted = {change_digest(c) for c in now}
    for change in then:
        if change["sha256"] not in wanted:
            match = next((c for c in now if (c["cluster"], c["task"], c["node"]) ==
                          (change["cluster"], change["task"], change["node"])), None)
            where = f"{change['cluster']}{'/' + change['node'] if change['node'] else ''}: {change['task']}"
            reasons.append(f"{where}: saved {change['before']!r} -> {change['after']!r}, now "
                           + (f"{match['before']!r} -> {match['after']!r}" if match else "no change is needed"))
    known = {c["sha256"] for c in then}
    for change in now:
        if change_digest(change) not in known and not any(
                (c["cluster"], c["task"], c["node"]) == (change["cluster"], change["task"], change["node"])
                for c in then):
            reasons.append(f"{change['cluster']}{'/' + change['node'] if change['node'] else ''}: {change['task']}: "
                           f"a change the saved plan does not have: {change['before']!r} -> {change['after']!r}")
    if not reasons and [change_digest(c) for c in now] != [c["sha256"] for c in then]:
        reasons.append("the same changes, in another order")
    return reasons
