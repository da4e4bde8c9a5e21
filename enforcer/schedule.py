"""Scheduled enforcement: catch drift on a timer and, where allowed, correct it.

Each round reloads the playbook and inventory (so edits take effect), then
runs every cluster on its own, spread over the splay, under its lock:
`monitor` plans and records the drift; `enforce` applies when there is drift
and the cluster is inside its maintenance window (`enforce_window`), and
only monitors outside it. A cluster an operator or the cluster itself is
busy with — a Paused node, a node not Up, a group moving — is skipped with
the reason recorded. SIGTERM ends the loop between runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from croniter import croniter

from . import api
from .enforce_window import in_window
from .errors import EnforcerError, InputError
from .executor import RunObserver
from .lifecycle import Recorder, Run
from .locks import ClusterLocked
from .model import Cluster, Plan
from .resources.base import State

_MOVING = ("Pending", "OnlinePending", "OfflinePending")


@dataclass
class Cadence:
    """When rounds start: every N seconds, or on a cron expression."""

    every_s: float | None = None
    cron: str | None = None

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        if self.cron:
            return croniter(self.cron, moment).get_next(dt.datetime)
        return moment + dt.timedelta(seconds=self.every_s or 0)


def parse_duration(text: str, what: str) -> float:
    """`15m`, `90s`, `1h`, `0.5s` or a plain number of seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", text.strip())
    if not match:
        raise InputError(f"{what} {text!r}: expected a duration like 30s, 15m or 1h")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[match.group(2)]
    return float(match.group(1)) * scale


def parse_cron(text: str) -> str:
    if not croniter.is_valid(text):
        raise InputError(f"--cron {text!r}: expected a cron expression such as '*/15 * * * *'")
    return text




def round_finding(plan: Plan, cluster: str) -> str:
    """What a round found, as its log line says it: a cluster it could not read or plan is not "0 pending"."""
    planned = next(c for c in plan.clusters if c.cluster == cluster)
    if cluster in plan.locked:
        return f"NOT CHECKED: {planned.error}"
    down = {n: plan.unreachable[n] for n in planned.nodes if n in plan.unreachable}
    if down:
        return "NOT CHECKED: unreachable: " + "; ".join(f"{n}: {why}" for n, why in down.items())
    if planned.error:
        return f"NOT CHECKED: the plan failed: {planned.error}"
    return f"{len(planned.changes)} change(s) pending"


def busy_reason(plan: Plan, cluster: Cluster) -> str | None:
    """Why this cluster must be left alone now, or None: never fight an operator or the cluster itself."""
    planned = next(c for c in plan.clusters if c.cluster == cluster.name)
    if not planned.facts:
        return None
    state = State(cluster.name, cluster.node_names, planned.facts)
    for node in cluster.node_names:
        if state.node_states.get(node, "unknown") != "Up":
            return f"node {node} is {state.node_states.get(node, 'unknown')}"
    moving = [g for g, group in state.groups.items() if group["state"] in _MOVING]
    return f"group {moving[0]} is moving ({state.groups[moving[0]]['state']})" if moving else None


@dataclass
class Schedule:
    options: api.Options
    cadence: Cadence
    mode: str = "monitor"
    splay_s: float = 0.0
    max_runs: int | None = None
    metrics_file: str | None = None


class Scheduler:
    def __init__(self, schedule: Schedule, recorder: Recorder, log: Callable[[str], None],
                 stop: threading.Event, observer: RunObserver | None = None) -> None:
        self.schedule = schedule
        self.recorder = recorder
        self.log = log
        self.stop = stop
        self.observer = observer

    def run(self) -> int:
        rounds, due = 0, dt.datetime.now().astimezone()
        while not self.stop.is_set() and (self.schedule.max_runs is None or rounds < self.schedule.max_runs):
            if self.stop.wait(max(0.0, (due - dt.datetime.now().astimezone()).total_seconds())):
                break
            self.run_round()
            rounds += 1
            due = self.schedule.cadence.next_after(max(due, dt.datetime.now().astimezone()))
        self.log(f"schedule: stopped after {rounds} round(s)")
        return 0

    def run_round(self) -> None:
        try:
            loaded = api.load(self.schedule.options)
        except InputError as exc:  # an edit broke the playbook: say so, keep the schedule alive
            self.log(f"schedule: this round is skipped: {exc}")
            return
        start = dt.datetime.now().astimezone()
        for cluster in sorted(loaded.clusters, key=lambda c: self._offset(c.name)):
            wait = (start + dt.timedelta(seconds=self._offset(cluster.name)) - dt.datetime.now().astimezone())
            if self.stop.wait(max(0.0, wait.total_seconds())):
                return
            self._run_cluster(loaded, cluster)

    def _offset(self, cluster: str) -> float:
        """Each cluster's fixed place in the splay: spread, and the same every round."""
        return (zlib.crc32(cluster.encode()) % 1000) / 1000 * self.schedule.splay_s

    def _run_cluster(self, loaded: api.Loaded, cluster: Cluster) -> None:
        only = dataclasses.replace(loaded, clusters=[cluster], fact_requests={
            n: loaded.fact_requests[n] for n in cluster.node_names})
        run = Run(only, self.schedule.mode, self.recorder)
        try:
            with run:
                self._plan_and_maybe_apply(run, cluster)
        except ClusterLocked as exc:
            self._skip(run, cluster, str(exc))
        except EnforcerError as exc:
            self._skip(run, cluster, f"error: {exc}")

    def _plan_and_maybe_apply(self, run: Run, cluster: Cluster) -> None:
        plan = run.plan()
        reason = busy_reason(plan, cluster)
        if reason:
            self._skip(run, cluster, reason)
            return
        window = cluster.vars.get("enforce_window") or next(
            (p.vars.get("enforce_window") for p in run.loaded.playbook.plays if p.vars.get("enforce_window")), None)
        enforce = self.schedule.mode == "enforce" and in_window(window, dt.datetime.now(), cluster.name)
        if not (enforce and plan.changes and not plan.failed):
            mode = "enforce" if enforce else "monitor"
            run.record_plan(mode)
            self.log(f"{cluster.name}: {mode}: {round_finding(plan, cluster.name)}"
                     + ("" if enforce or self.schedule.mode == "monitor" else " (outside enforce_window)"))
            return
        result = run.apply(self.observer, self.stop)
        applied = sum(1 for s in result.clusters[0].steps if s.status == "changed")
        self.log(f"{cluster.name}: enforce: {applied} change(s) applied" +
                 (f"; FAILED: {result.clusters[0].error}" if result.clusters[0].error else ""))

    def _skip(self, run: Run, cluster: Cluster, reason: str) -> None:
        run.record_skip(cluster.name, reason)
        self.log(f"{cluster.name}: skipped: {reason}")
