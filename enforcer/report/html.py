"""A plan or run as one self-contained HTML file, to attach to a change ticket and print.

It is rendered from the saved JSON documents (runs/RUN_ID/plan.json, run.json) and the
history rows, not from the model, so a report can be rebuilt long after the run. Everything
is inline (CSS, SVG, no scripts): a ticket system or a printer must not need the network.
Markup lives in templates/; this module computes what the templates show and the SVG geometry.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from .format import audit_rows, compact, symbol

WIDTH, LABEL_W, PAD_R = 760.0, 110.0, 20.0  # SVG user units; the SVG scales to the page
LANE_H, BAR_H, AXIS_H = 34.0, 20.0, 34.0
DRIFT_H, DRIFT_L, DRIFT_T, DRIFT_B = 230.0, 46.0, 30.0, 46.0


@functools.lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=PackageLoader("enforcer.report", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(plan_doc: dict[str, Any], run_doc: dict[str, Any] | None,
                history: dict[str, list[dict[str, Any]]]) -> str:
    """The report: summary, then per cluster its changes by node, errors, backups, the restart swimlane
    and the drift chart. `history` maps a cluster to its History.runs() rows; a cluster without rows
    gets no chart. With no `run_doc` it is a plan report: the restart is drawn in its planned order."""
    runs = {c["name"]: c for c in (run_doc or {}).get("clusters", [])}
    clusters = [_cluster(cp, runs.get(cp["name"]), run_doc is not None, history.get(cp["name"], []))
                for cp in plan_doc.get("clusters", [])]
    steps = [s for c in runs.values() for s in c.get("steps", [])]
    summary = dict(plan_doc.get("summary", {}))
    counts = [("changes planned", summary.get("changes", 0))]
    if run_doc is not None:
        counts += [(label, sum(x["status"] == s for x in steps))
                   for label, s in (("changes applied", "changed"), ("changes failed", "failed"),
                                    ("changes not reached", "skipped"))]
        counts += [("backups taken", sum(len(c.get("backups", [])) for c in runs.values()))]
    counts += [("destructive", summary.get("destructive", 0)), ("disruptive", summary.get("disruptive", 0)),
               ("backups planned", summary.get("backups", 0)),
               ("tasks already ok", summary.get("ok", 0)), ("tasks skipped", summary.get("skipped", 0))]
    return _env().get_template("report.html.j2").render(
        plan=plan_doc, run=run_doc, outcome=_outcome(plan_doc, run_doc, steps), counts=counts,
        started=_when(min((s["started_at"] for s in steps if s.get("started_at")), default=None)),
        recap=(run_doc or {}).get("recap", {}), clusters=clusters, audit=audit_rows(plan_doc.get("audit") or {}),
        unreachable=sorted(plan_doc.get("unreachable", {}).items()))


def _outcome(plan_doc: dict[str, Any], run_doc: dict[str, Any] | None, steps: list[dict[str, Any]]) -> str:
    """History's vocabulary (ok, changes, changed, failed, unreachable, interrupted), so report and chart agree."""
    if run_doc is not None and run_doc.get("interrupted"):
        return "interrupted"
    if plan_doc.get("unreachable"):
        return "unreachable"
    clusters = plan_doc.get("clusters", []) + (run_doc or {}).get("clusters", [])
    if any(c.get("error") for c in clusters) or any(s["status"] == "failed" for s in steps):
        return "failed"
    if run_doc is not None:
        return "changed" if any(s["status"] == "changed" for s in steps) else "ok"
    return "changes" if any(c.get("changes") for c in plan_doc.get("clusters", [])) else "ok"


def _when(epoch: float | None) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds") if epoch else ""


def _where(change: dict[str, Any]) -> str:
    return change["node"] if change.get("node") is not None else f"cluster (via {change.get('via')})"


def _key(change: dict[str, Any]) -> tuple[Any, ...]:
    return change.get("task"), change.get("type"), change.get("node"), change.get("via")


def _joined(planned: list[dict[str, Any]], steps: list[dict[str, Any]]) -> list[tuple[dict, dict | None]]:
    """A run step lacks destructive/backups/order: take them from its planned change, matched in plan order."""
    queues: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for change in planned:
        queues.setdefault(_key(change), []).append(change)
    joined: list[tuple[dict, dict | None]] = []
    for step in steps:
        queue = queues.get(_key(step))
        joined.append(({**queue.pop(0), **step} if queue else step, step))
    return joined


def _cluster(cp: dict[str, Any], cr: dict[str, Any] | None, is_run: bool,
             history: list[dict[str, Any]]) -> dict[str, Any]:
    planned = cp.get("changes", [])
    pairs = _joined(planned, cr.get("steps", [])) if is_run and cr else [(c, None) for c in planned]
    nodes = (cr or cp).get("nodes") or cp.get("nodes", [])
    groups: dict[str, list[dict[str, Any]]] = {}
    lanes, orders = [], []
    for n, (change, step) in enumerate(pairs, 1):
        groups.setdefault(_where(change), []).append(_row(n, change, step))
        timeline = ((step or {}).get("data") or {}).get("timeline")
        if change.get("type") == "cluster_restart":
            lane = _timeline_lane(timeline, nodes) if timeline else _planned_lane(change.get("order", []), nodes)
            lanes.append({"task": change.get("task", ""), **lane})
        elif change.get("order"):
            orders.append({"task": change.get("task", ""), "items": change["order"]})
    backups = (cr or {}).get("backups", []) if is_run else [
        {"node": _where(c), "kind": c.get("type"), "task": c.get("task"), "file": b}
        for c in planned for b in c.get("backups", [])]
    failed = [(_where(c), c.get("task", ""), s.get("message", "")) for c, s in pairs if s and s["status"] == "failed"]
    return {"name": cp["name"], "nodes": nodes, "groups": list(groups.items()),
            "error": (cr or {}).get("error") or cp.get("error"), "failed": failed,
            "warnings": (cr or {}).get("warnings", []), "final_nodes": (cr or {}).get("final_nodes", {}),
            "outcomes": cp.get("outcomes", []), "backups": backups, "swimlanes": lanes, "orders": orders,
            "drift": _drift(history) if history else None}


def _row(n: int, change: dict[str, Any], step: dict[str, Any] | None) -> dict[str, Any]:
    actions = change.get("actions", [])
    return {"n": n, "task": change.get("task", ""), "type": change.get("type", ""), "target": change.get("target", ""),
            "action": f"{symbol(actions)} {', '.join(actions)}",
            "before": compact(change.get("before")), "after": compact(change.get("after")),
            "destructive": change.get("destructive"), "disruptive": change.get("disruptive"),
            "backups": [_basename(b) for b in change.get("backups", [])],
            "status": step["status"] if step else None, "message": (step or {}).get("message") or "",
            "duration": f"{step['duration_s']:.2f} s" if step and step["status"] != "skipped" else ""}


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _lanes(nodes: list[str], extra: list[str]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    names = list(nodes) + [n for n in dict.fromkeys(extra) if n not in nodes]
    lanes: list[dict[str, Any]] = [
        {"node": n, "y": i * LANE_H, "h": LANE_H, "text_y": i * LANE_H + LANE_H / 2 + 4, "bars": []}
        for i, n in enumerate(names)]
    return lanes, {lane["node"]: lane["y"] for lane in lanes}


def _nice_step(span: float, target: int = 6) -> float:
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _timeline_lane(timeline: list[dict[str, Any]], nodes: list[str]) -> dict[str, Any]:
    """What happened: bars at their real times, x in seconds since the first action began."""
    t0 = min(e["start"] for e in timeline)
    end = max((e["end"] or e["start"]) for e in timeline) - t0
    step = _nice_step(max(end, 1e-3))
    axis_end = math.ceil(end / step - 1e-9) * step or step
    scale = (WIDTH - LABEL_W - PAD_R) / axis_end
    ticks = [{"x": LABEL_W + k * step * scale, "label": f"{round(k * step, 6):g} s"}
             for k in range(int(round(axis_end / step)) + 1)]
    return _draw(nodes, [(e["node"], e["action"], (e["start"] - t0) * scale,
                          max(((e["end"] or e["start"]) - e["start"]) * scale, 2.0), e.get("ok", True),
                          f"{e['start'] - t0:.3f}–{(e['end'] or e['start']) - t0:.3f} s") for e in timeline],
                 ticks, "seconds since the first action", planned=False)


def _planned_lane(order: list[str], nodes: list[str]) -> dict[str, Any]:
    """Not run yet: the planned sequence in equal slots, so nobody reads durations into it."""
    slot = (WIDTH - LABEL_W - PAD_R) / max(len(order), 1)
    steps = [(item.split(" ", 1) + [""])[:2] for item in order]
    ticks = [{"x": LABEL_W + (i + 0.5) * slot, "label": f"step {i + 1}"} for i in range(len(order))]
    return _draw(nodes, [(node, verb, i * slot + 3, slot - 6, True, f"planned step {i + 1}")
                         for i, (verb, node) in enumerate(steps)], ticks, "planned order (not time)", planned=True)


def _draw(nodes: list[str], bars: list[tuple[str, str, float, float, bool, str]], ticks: list[dict[str, Any]],
          axis_label: str, planned: bool) -> dict[str, Any]:
    lanes, lane_y = _lanes(nodes, [b[0] for b in bars])
    for order, (node, action, x, w, ok, when) in enumerate(bars):
        kind = "recovery" if action.startswith("recovery") else action if action in ("stop", "start") else "other"
        lanes[list(lane_y).index(node)]["bars"].append({
            "x": LABEL_W + x, "y": lane_y[node] + (LANE_H - BAR_H) / 2, "w": w, "h": BAR_H, "order": order,
            "node": node, "action": action, "cls": f"bar {kind}" + ("" if ok else " failed"),
            "label": f"{order + 1}. {action}" if w > 46 else f"{order + 1}", "title":
            f"{order + 1}. {action} {node}: {when}" + ("" if ok else " (FAILED)"), "text_x": LABEL_W + x + w / 2})
    axis_y = len(lanes) * LANE_H
    return {"lanes": lanes, "ticks": ticks, "axis_y": axis_y, "axis_label": axis_label, "planned": planned,
            "width": WIDTH, "height": axis_y + AXIS_H + 6, "plot_left": LABEL_W, "plot_right": WIDTH - PAD_R}


def _epoch(iso: str) -> float:
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def _drift(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Changes pending and applied per run over time: drift that keeps coming back shows as a saw-tooth."""
    rows = sorted(rows, key=lambda r: (_epoch(r["started"]), r["id"]))
    times = [_epoch(r["started"]) for r in rows]
    left, right, bottom = DRIFT_L, WIDTH - PAD_R, DRIFT_H - DRIFT_B
    span = times[-1] - times[0]
    # Runs in the same second (or a single run) would pile up: spread them evenly instead.
    first, last = left + 60, right - 60  # room for the first and last date labels
    xs = ([first + (t - times[0]) / span * (last - first) for t in times] if span > 0 else
          [first + (i + 0.5) * (last - first) / len(rows) for i in range(len(rows))])
    bar_w = max(4.0, min(28.0, (last - first) / len(rows) * 0.5))
    top_value = max([r["changes_pending"] for r in rows] + [r["changes_applied"] for r in rows] + [1])
    y_step = max(1, math.ceil(top_value / 5))
    y_max = math.ceil(top_value / y_step) * y_step

    def y(value: float) -> float:
        return bottom - value / y_max * (bottom - DRIFT_T)

    points = [{"x": x, "bar_x": x - bar_w / 2, "bar_w": bar_w, "pending_y": y(r["changes_pending"]),
               "applied_y": y(r["changes_applied"]), "outcome": r["outcome"], "row": r,
               "title": f"{r['started']} · {r['mode']} · {r['outcome']} · "
                        f"{r['changes_pending']} pending, {r['changes_applied']} applied"}
              for x, r in zip(xs, rows, strict=True)]
    labels: list[int] = []
    for i in (0, len(rows) - 1, len(rows) // 2):  # first and last first; no label over another
        if all(abs(xs[i] - xs[j]) > 110 for j in labels):
            labels.append(i)
    return {"points": points, "width": WIDTH, "height": DRIFT_H, "left": left, "right": right, "top": DRIFT_T,
            "bottom": bottom, "rows": rows[-10:],
            "applied": " ".join(f"{p['x']:.1f},{p['applied_y']:.1f}" for p in points),
            "y_ticks": [{"y": y(v), "label": v} for v in range(0, y_max + 1, y_step)],
            "x_ticks": [{"x": xs[i], "label": rows[i]["started"][:16].replace("T", " ")} for i in labels]}
