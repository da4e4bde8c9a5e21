"""Formatting shared by the text and Markdown renderers, so a change reads the same in a terminal and a ticket."""

from __future__ import annotations

import json
from typing import Any

from .. import ordering
from ..model import Change, Plan

# One glyph per action set, Terraform's where it has one; unknown combinations fall back to "~".
SYMBOLS = {"create": "+", "delete": "-", "update": "~", "delete/create": "-/+", "restart": "↻", "test": "⇄"}


def symbol(actions: list[str]) -> str:
    return SYMBOLS.get("/".join(actions), "~")


def where(change: Change) -> str:
    """Cluster-wide changes name the node that carries them out, as that is the session an operator would check."""
    return change.node if change.node is not None else f"cluster via {change.via}"


def compact(value: Any, width: int | None = None) -> str:
    """Facts as an operator reads them: `key=value` pairs, `{"exists": False}` and None as "absent".

    `width` shortens long values (whole registry keys) for a terminal; the JSON report keeps them whole.
    """
    text = _compact(value, top=True)
    return text if width is None or len(text) <= width else text[:width - 1] + "…"


def _compact(value: Any, top: bool = False) -> str:
    if value is None:
        return "absent"
    if isinstance(value, dict):
        if value.get("exists") is False:
            return "absent"
        # "exists" is only news when it is the whole story.
        pairs = {k: v for k, v in value.items() if not (k == "exists" and v is True)}
        if not pairs:
            return "present" if value else ("none" if top else "{}")
        inner = ", ".join(f"{k}={_compact(v)}" for k, v in pairs.items())
        return inner if top else "{" + inner + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_compact(v) for v in value)
        return (inner or "none") if top else "[" + inner + "]"
    return str(value)


def sequence(change: Change) -> tuple[str, list[str]] | None:
    """The node order a cluster-wide change will follow: what a reviewer must check before approving it."""
    if change.type == "cluster_restart" and "sequence" in change.params:
        return "restart sequence", [ordering.describe([(verb, node)]) for verb, node in change.params["sequence"]]
    if change.type == "failover_test" and "tour" in change.params:
        return "tour", list(change.params["tour"])
    return None


def plan_summary(plan: Plan) -> dict[str, int]:
    """The counts every report leads with; one definition so text, JSON and Markdown never disagree."""
    changes = plan.changes
    outcomes = [o for cp in plan.clusters for o in cp.outcomes]
    return {"changes": len(changes),
            "destructive": sum(c.destructive for c in changes),
            "disruptive": sum(c.disruptive for c in changes),
            "backups": sum(len(c.backups) for c in changes),
            "clusters": len(plan.clusters),
            "clusters_with_changes": sum(bool(cp.changes) for cp in plan.clusters),
            "failed_clusters": sum(bool(cp.error) and cp.cluster not in plan.locked for cp in plan.clusters),
            "locked_clusters": len(plan.locked),
            "ok": sum(o.status == "ok" for o in outcomes),
            "skipped": sum(o.status == "skipped" for o in outcomes)}


AUDIT_LABELS = (("run_id", "run"), ("mode", "mode"), ("operator", "operator"), ("control_host", "control host"),
                ("pid", "pid"), ("enforcer_version", "enforcer"), ("playbook_sha256", "playbook SHA-256"),
                ("git_commit", "git commit"), ("extra_vars", "-e"), ("host_limit", "--limit"), ("tags", "tags"),
                ("started", "started"))


def audit_rows(audit: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of each audit field that has a value, in one order for every report."""
    return [(label, json.dumps(audit[key]) if isinstance(audit[key], (dict, list)) else str(audit[key]))
            for key, label in AUDIT_LABELS if audit.get(key) not in (None, "", [], {})]


def audit_line(audit: dict[str, Any]) -> str:
    return "; ".join(f"{label} {value}" for label, value in audit_rows(audit))


def item_label(change: Change) -> str:
    """` (item=...)` for a change a loop planned, as Ansible names each item; empty otherwise."""
    return "" if change.item is None else f" (item={compact(change.item, 60)})"


def summary_line(plan: Plan) -> str:
    s = plan_summary(plan)
    if not s["changes"] and not s["failed_clusters"] and not plan.locked and not plan.unreachable:
        return "No changes. The cluster(s) match the playbook."
    line = (f"Plan: {s['changes']} to change ({s['destructive']} destructive, {s['disruptive']} disruptive, "
            f"{s['backups']} backups) "
            f"on {s['clusters_with_changes']} cluster(s); {s['ok']} ok, {s['skipped']} skipped.")
    problems = ([f"{s['failed_clusters']} cluster(s) failed to plan"] if s["failed_clusters"] else []) \
        + ([f"{s['locked_clusters']} cluster(s) leased by another run"] if plan.locked else []) \
        + ([f"{len(plan.unreachable)} node(s) unreachable"] if plan.unreachable else [])
    return line + (" " + "; ".join(problems) + "." if problems else "")
