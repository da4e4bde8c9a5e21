"""Plain-text plans, recaps and progress lines: what an operator reads in a terminal and pastes into a ticket.

Plain ASCII layout (a few glyphs aside), no colours: the text must survive copy and paste intact.
"""

from __future__ import annotations

from itertools import groupby

from ..model import Change, ClusterPlan, ClusterRun, Plan, RunResult, StepResult
from .format import audit_line, compact, item_label, sequence, summary_line, symbol, where
from .jsonout import RECAP_KEYS, recap

VALUE_WIDTH = 80  # per before/after value at verbosity 0; -v shows them whole
_STATUS = {"failed": "FAILED"}  # shouted, so a failure stands out in a scrolling log


def plan_text(plan: Plan, verbosity: int = 0) -> str:
    lines = [f"Plan for {plan.playbook} on {plan.inventory}"] + ([audit_line(plan.audit)] if plan.audit else [])
    for cp in plan.clusters:
        lines += [""] + _cluster_plan(cp, verbosity)
    if plan.unreachable:
        lines += ["", "UNREACHABLE"] + [f"  {node}: {why}" for node, why in plan.unreachable.items()]
    return "\n".join(lines + ["", summary_line(plan)]) + "\n"


def _cluster_plan(cp: ClusterPlan, verbosity: int) -> list[str]:
    lines = [f"cluster {cp.cluster} (nodes in order: {', '.join(cp.nodes)})"]
    width = None if verbosity >= 1 else VALUE_WIDTH
    # groupby keeps plan order: a task planned twice (a handler, a second play) gets a second header.
    for task, changes in groupby(cp.changes, key=lambda c: c.task):
        lines.append(f"  {task}")
        for change in changes:
            lines += _change_lines(change, width)
    if verbosity >= 1:
        for o in cp.outcomes:
            label = "ok  " if o.status == "ok" else "skip"
            lines.append(f"  {label} [{o.node or 'cluster'}] {o.task}: {o.reason}")
    if cp.error:
        lines.append(f"  ERROR: {cp.error}")
    if not cp.changes and not cp.error:
        lines.append("  no changes")
    return lines


def _change_lines(change: Change, width: int | None) -> list[str]:
    line = (f"    {symbol(change.actions):<3} [{where(change)}] {change.type}{item_label(change)} "
            f"{compact(change.before, width)} -> {compact(change.after, width)}")
    marks = ([f"destructive; backup: {', '.join(change.backups)}" if change.backups else "destructive; no backup"]
             if change.destructive else []) + (["disruptive"] if change.disruptive else [])
    if marks:
        line += f" ({'; '.join(marks)})"
    lines = [f"{line} # {change.reason}"]
    steps = sequence(change)
    if steps:
        label, items = steps
        lines.append(f"        {label}: {', '.join(items)}")
    return lines


def recap_text(run: RunResult) -> str:
    counts = recap(run)
    name_width = max((len(n) for n in counts), default=0)
    widths = {k: max((len(f"{k}={c[k]}") for c in counts.values()), default=0) for k in RECAP_KEYS}
    lines = ["RECAP" + (" (interrupted)" if run.interrupted else "")]
    for node, c in counts.items():
        fields = " ".join(f"{k}={c[k]}".ljust(widths[k]) for k in RECAP_KEYS)
        lines.append(f"{node.ljust(name_width)}  {fields}".rstrip())
    lines += [f"UNREACHABLE {node}: {why}" for node, why in run.plan.unreachable.items()]
    for cr in run.clusters:
        lines += [""] + _cluster_recap(cr)
    return "\n".join(lines) + "\n"


def _cluster_recap(cr: ClusterRun) -> list[str]:
    lines = [f"cluster {cr.cluster}"]
    if cr.error:
        lines.append(f"  ERROR: {cr.error}")
    if cr.final_nodes:
        lines.append("  final node states: " + ", ".join(f"{n} {s}" for n, s in cr.final_nodes.items()))
    lines += [f"  backup: {b.get('node')} {b.get('kind')} {b.get('path')} -> {b.get('file')}" for b in cr.backups]
    lines += [f"  WARNING: {w}" for w in cr.warnings]
    return lines


def step_line(result: StepResult) -> str:
    c = result.change
    line = f"{_STATUS.get(result.status, result.status):<7} [{where(c)}] {c.task} ({c.type}){item_label(c)}"
    if result.status != "skipped":
        line += f" {result.duration_s:.2f}s"
    return line + (f": {result.message}" if result.message else "")

