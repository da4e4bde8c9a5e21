"""Plans and runs as Markdown (GitHub-flavoured) for change tickets: reviewed before a run, closed after it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model import Change, Plan, RunResult
from .format import audit_rows, compact, plan_summary, sequence, summary_line, where
from .jsonout import RECAP_KEYS, recap


def plan_markdown(plan: Plan) -> str:
    summary = plan_summary(plan)
    parts = [f"# Plan: {_inline(plan.playbook)} on {_inline(plan.inventory)}", *_audit(plan.audit), summary_line(plan),
             _table(["Summary", "Count"], [[k.replace("_", " "), str(v)] for k, v in summary.items()])]
    for cp in plan.clusters:
        parts += _cluster_head(cp.cluster, cp.nodes)
        if cp.changes:
            parts.append(_table(["#", "Task", "Node", "Target", "Action", "Before", "After", "Destructive",
                                 "Disruptive", "Backup"],
                                [[str(i), _cell(c.task), _cell(where(c)), _code(c.target), _cell(", ".join(c.actions)),
                                  _code(compact(c.before)), _code(compact(c.after)),
                                  "**yes**" if c.destructive else "no", "**yes**" if c.disruptive else "no",
                                  _code(", ".join(c.backups))]
                                 for i, c in enumerate(cp.changes, 1)]))
        elif not cp.error:
            parts.append("No changes.")
        parts += _sequences(cp.changes)
        if cp.error:
            parts.append(f"**Error:** {_inline(cp.error)}")
    return _join(parts + _unreachable(plan))


def run_markdown(run: RunResult) -> str:
    plan = run.plan
    parts = [f"# Run {_inline(run.run_id)}: {_inline(plan.playbook)} on {_inline(plan.inventory)}", *_audit(plan.audit)]
    if run.interrupted:
        parts.append("**The run was interrupted.**")
    parts.append(_table(["Node", *RECAP_KEYS], [[_cell(n), *(str(c[k]) for k in RECAP_KEYS)]
                                                for n, c in recap(run).items()]))
    for cr in run.clusters:
        parts += _cluster_head(cr.cluster, cr.nodes)
        if cr.steps:
            parts.append(_table(["#", "Task", "Node", "Action", "Status", "Duration", "Message"],
                                [[str(i), _cell(s.change.task), _cell(where(s.change)),
                                  _cell(", ".join(s.change.actions)), s.status,
                                  "" if s.status == "skipped" else f"{s.duration_s:.2f}s",
                                  _cell(s.message)] for i, s in enumerate(cr.steps, 1)]))
        parts += _sequences([s.change for s in cr.steps])
        if cr.error:
            parts.append(f"**Error:** {_inline(cr.error)}")
        if cr.final_nodes:
            parts.append("Final node states: " + ", ".join(f"{_inline(n)} {s}" for n, s in cr.final_nodes.items()))
        parts += _bullets("Backups", [f"{_inline(b.get('node'))} {b.get('kind')} {_code(str(b.get('path')))} -> "
                                      f"{_code(str(b.get('file')))}" for b in cr.backups])
        parts += _bullets("Warnings", [_inline(w) for w in cr.warnings])
    return _join(parts + _unreachable(plan))


def _cluster_head(cluster: str, nodes: list[str]) -> list[str]:
    return [f"## Cluster {_inline(cluster)}", "Nodes in order: " + ", ".join(_inline(n) for n in nodes)]


def _sequences(changes: Iterable[Change]) -> list[str]:
    """Numbered, so a reviewer can tick each step off against the KB procedure."""
    parts = []
    for change in changes:
        steps = sequence(change)
        if steps:
            label, items = steps
            parts += [f"{label.capitalize()} ({_inline(change.task)}):",
                      "\n".join(f"{i}. {_inline(item)}" for i, item in enumerate(items, 1))]
    return parts


def _unreachable(plan: Plan) -> list[str]:
    return _bullets("Unreachable nodes", [f"{_inline(n)}: {_inline(why)}" for n, why in plan.unreachable.items()])


def _bullets(title: str, items: list[str]) -> list[str]:
    return [f"### {title}", "\n".join(f"- {item}" for item in items)] if items else []


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _cell(text: Any) -> str:
    """A table cell: `|` would end the cell and a newline the row."""
    return _inline(str(text)).replace("|", "\\|")


def _code(text: str) -> str:
    """Values and Windows paths as code, so backslashes, `*` and `_` are shown, not interpreted."""
    if not text:
        return ""
    fence, pad = ("``", " ") if "`" in text else ("`", "")
    return f"{fence}{pad}{_cell(text)}{pad}{fence}"


def _inline(text: Any) -> str:
    return str(text).replace("\r", "").replace("\n", "<br>")


def _join(parts: list[str]) -> str:
    return "\n\n".join(parts) + "\n"


def _audit(audit: dict[str, Any]) -> list[str]:
    return [_table(["Audit", "Value"], [[label, _code(value)] for label, value in audit_rows(audit)])] if audit else []
