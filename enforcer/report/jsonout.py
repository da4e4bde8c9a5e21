"""Plans and runs as JSON documents, Terraform-like, for tools that gate or archive a run.

The shape is a contract (`format_version`): add keys, never rename or drop them.
"""

from __future__ import annotations

from typing import Any

from ..model import ClusterPlan, Plan, RunResult, StepResult
from .format import plan_summary

FORMAT_VERSION = "1.0"
RECAP_KEYS = ("ok", "changed", "failed", "skipped")


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "playbook": plan.playbook, "inventory": plan.inventory,
            "clusters": [{"name": cp.cluster, "nodes": cp.nodes, "changes": [c.to_json() for c in cp.changes],
                          "error": cp.error,
                          "outcomes": [{"task": o.task, "node": o.node, "status": o.status, "reason": o.reason}
                                       for o in cp.outcomes]}
                         for cp in plan.clusters],
            "unreachable": plan.unreachable, "locked": plan.locked, "audit": plan.audit,
            "summary": plan_summary(plan)}


def run_json(run: RunResult) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "run_id": run.run_id, "playbook": run.plan.playbook,
            "inventory": run.plan.inventory, "interrupted": run.interrupted,
            "clusters": [{"name": cr.cluster, "nodes": cr.nodes, "error": cr.error, "final_nodes": cr.final_nodes,
                          "backups": cr.backups, "warnings": cr.warnings, "steps": [_step(s) for s in cr.steps]}
                         for cr in run.clusters],
            "audit": run.plan.audit, "recap": recap(run)}


def _step(result: StepResult) -> dict[str, Any]:
    c = result.change
    return {"task": c.task, "type": c.type, "node": c.node, "via": c.via, "actions": c.actions,
            "status": result.status, "message": result.message, "duration_s": round(result.duration_s, 3),
            "started_at": result.started_at, "before": c.before, "after": c.after, "data": result.data}


def recap(run: RunResult) -> dict[str, dict[str, int]]:
    """Ansible's per-host recap: a step counts for the node whose session ran it, so every count has an owner."""
    counts: dict[str, dict[str, int]] = {}
    for cr in run.clusters:
        for node in cr.nodes:
            counts[node] = dict.fromkeys(RECAP_KEYS, 0)
    plans: dict[str, ClusterPlan] = {cp.cluster: cp for cp in run.plan.clusters}
    for cr in run.clusters:
        for step in cr.steps:
            if step.status in RECAP_KEYS:
                _count(counts, step.change.node or step.change.via, step.status)
        plan = plans.get(cr.cluster)
        for outcome in plan.outcomes if plan else []:
            if outcome.status in ("ok", "skipped"):
                # A cluster-wide outcome has no node of its own: Ansible would show it on the first host.
                _count(counts, outcome.node or cr.nodes[0], outcome.status)
    return counts


def _count(counts: dict[str, dict[str, int]], node: str, key: str) -> None:
    counts.setdefault(node, dict.fromkeys(RECAP_KEYS, 0))[key] += 1
