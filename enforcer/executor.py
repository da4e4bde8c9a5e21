"""Carrying out a plan: clusters side by side, a task's per-node changes at once, in plan order.

A cluster stops at its first failed change: later changes are reported as
not reached, earlier ones as done. Whatever happened, the run ends by
reading every node's state from the cluster itself, so the report says
where each node really is — never what enforcer hoped it would be.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import EnforcerError, TransportError
from .model import Change, ClusterPlan, ClusterRun, Plan, RunResult, StepResult
from .resources import RESOURCES, Session, StepError
from .resources.base import cluster_node_names
from .transport.base import AgentOp, OpResult
from .transport.pool import Connections

log = logging.getLogger("enforcer.ops")


class RunObserver:
    """Live progress; the CLI prints it, tests may record it. Every method may be called from any thread."""

    def step_started(self, change: Change) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...

    def progress(self, cluster: str, message: str) -> None: ...


class _ClusterSession(Session):
    """Calls through the run's connections; `slots` (--forks) bounds the nodes worked on at once."""

    def __init__(self, cluster: str, connections: Connections, observer: RunObserver,
                 slots: threading.Semaphore, stop: threading.Event) -> None:
        self.cluster, self.connections, self.observer, self.slots = cluster, connections, observer, slots
        self.stop = stop

    def call(self, node: str, ops: Sequence[AgentOp], *, timeout_s: float | None = None,
             stop_on_error: bool = True) -> list[OpResult]:
        return self.connections.get(node).call(ops, timeout_s=timeout_s, stop_on_error=stop_on_error)

    def progress(self, message: str) -> None:
        self.observer.progress(self.cluster, message)

    def reset(self, node: str) -> None:
        self.connections.reset(node)

    def interrupted(self) -> bool:
        return self.stop.is_set()


def _waves(changes: list[Change]) -> list[list[Change]]:
    """Consecutive per-node changes of one task form a wave; cluster-wide changes stand alone."""
    waves: list[list[Change]] = []
    for change in changes:
        last = waves[-1] if waves else None
        if last and change.node is not None and last[0].node is not None and last[0].task == change.task:
            last.append(change)
        else:
            waves.append([change])
    return waves


def _run_wave(wave: list[Change], session: _ClusterSession, observer: RunObserver) -> list[StepResult]:
    """Nodes side by side; each node's own changes in plan order, stopping at its first failure.

    A disruptive per-node task (a service the roles need stopped, a DTC unregistered) is rolled: its play's
    `serial` nodes at a time, in node order, and no further node once more than `max_fail_percentage` of
    them failed, so one bad node does not take the others down with it (Cluster-Aware Updating's
    MaxFailedNodes).
    """
    by_node: dict[str | None, list[Change]] = {}
    for change in wave:
        by_node.setdefault(change.node, []).append(change)

    def node_lane(changes: list[Change]) -> list[StepResult]:
        results: list[StepResult] = []
        for change in changes:
            if results and results[-1].status == "failed":
                results.append(StepResult(change, "skipped", "not reached"))
            else:
                results.append(_apply(change, session, observer))
        return results

    lanes = list(by_node.values())
    rolled = wave[0].node is not None and any(c.disruptive for c in wave)
    size = batch_size(wave[0].serial, len(lanes)) if rolled else len(lanes)
    results: list[StepResult] = []
    failed = 0
    for start in range(0, len(lanes), size):
        batch = lanes[start:start + size]
        if rolled and failed * 100 > wave[0].max_fail_percentage * len(lanes):
            why = (f"not reached: {failed} of {len(lanes)} node(s) failed, more than max_fail_percentage "
                   f"{wave[0].max_fail_percentage:g}")
            results += [StepResult(c, "skipped", why) for lane in batch for c in lane]
            continue
        with ThreadPoolExecutor(max_workers=len(batch)) as pool:
            done = [result for lane in pool.map(node_lane, batch) for result in lane]
        failed += len({r.change.node for r in done if r.status == "failed"})
        results += done
    return results


def batch_size(serial: int | str, nodes: int) -> int:
    """How many nodes a rolled task takes at once: `serial` as a count, or as "N%" of the nodes (at least 1)."""
    if isinstance(serial, str):
        return max(1, nodes * int(serial.rstrip("%")) // 100)
    return min(serial, nodes)


def run_cluster(plan: ClusterPlan, connections: Connections, observer: RunObserver, stop: threading.Event,
                slots: threading.Semaphore) -> ClusterRun:
    run = ClusterRun(plan.cluster, plan.nodes)
    session = _ClusterSession(plan.cluster, connections, observer, slots, stop)
    waves = _waves(plan.changes)
    for index, wave in enumerate(waves):
        if stop.is_set():
            run.error = "interrupted before: " + wave[0].task
        if run.error:
            run.steps += [StepResult(c, "skipped", "not reached") for w in waves[index:] for c in w]
            break
        results = _run_wave(wave, session, observer)
        run.steps += results
        for result in results:
            run.backups += backups_of(result.data)
            if result.data.get("reboot_required"):
                run.warnings.append(f"{result.change.node}: a reboot is required to finish '{result.change.task}'")
        failed = [r for r in results if r.status == "failed"]
        if failed:
            run.error = f"task '{failed[0].change.task}' failed: {failed[0].message}"
    if plan.changes:
        run.final_nodes = final_node_states(plan, connections)
    return run


def _apply(change: Change, session: _ClusterSession, observer: RunObserver) -> StepResult:
    with session.slots:
        return _apply_in_slot(change, session, observer)


def _apply_in_slot(change: Change, session: Session, observer: RunObserver) -> StepResult:
    observer.step_started(change)
    start, started_at = time.monotonic(), time.time()
    try:
        data, note = _apply_once_or_settle(change, session)
        _fingerprint_backups(data, session)
        result = StepResult(change, "changed", note, time.monotonic() - start, data, started_at)
    except EnforcerError as exc:
        result = StepResult(change, "failed", str(exc), time.monotonic() - start, getattr(exc, "data", {}),
                            started_at)
    observer.step_finished(result)
    return result


def backups_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The backup records a step's result carries (resources/base.py: registry_backup, path_backup)."""
    return [b for b in (data.get("backups") or [data.get("backup")]) if b]


def _fingerprint_backups(data: dict[str, Any], session: Session) -> None:
    """Each backup's SHA-256, read as soon as it was taken: `enforcer restore` refuses a file that differs.

    A backup that cannot be read now keeps `sha256: None`, and restore says it cannot check it.
    """
    backups = backups_of(data)
    by_node: dict[str, list[dict[str, Any]]] = {}
    for backup in backups:
        backup["sha256"] = None
        by_node.setdefault(backup["node"], []).append(backup)
    for node, node_backups in by_node.items():
        try:
            found = session.call(node, [AgentOp("path.get", {"path": b["file"], "sha256": True}) for b in node_backups],
                                 stop_on_error=False)
        except EnforcerError as exc:
            log.warning("%s: could not read the SHA-256 of %d backup(s): %s", node, len(node_backups), exc)
            continue
        for backup, answer in zip(node_backups, found, strict=True):
            backup["sha256"] = (answer.data or {}).get("sha256") if answer.ok else None


def _apply_once_or_settle(change: Change, session: Session) -> tuple[dict[str, Any], str]:
    """A change whose answer was lost is re-read, and applied again only if it did not take effect."""
    resource = RESOURCES[change.type]
    try:
        return resource.apply(change, session), ""
    except TransportError as lost:
        log.info("%s: the answer to '%s' was lost (%s); re-reading", change.via, change.task, lost.detail)
        session.reset(change.via)
        try:
            settled = resource.settled(change, session)
        except EnforcerError as exc:
            raise StepError(f"{lost}; and re-reading failed: {exc}") from lost
        if settled is not None:
            return settled, "the answer was lost; re-read: the change is in effect"
        return resource.apply(change, session), "the answer was lost; re-read: applied again"


def final_node_states(plan: ClusterPlan, connections: Connections) -> dict[str, str]:
    """Each node's state as the cluster reports it, asked of the first node that answers.

    When no node runs the cluster service, none can: each node then says whether its cluster service
    is stopped (Down), and a node that cannot be reached is unknown.
    """
    aliases = {name.lower(): node for node, name in cluster_node_names(plan.nodes, plan.facts).items()}
    own: dict[str, str] = {}
    for node in plan.nodes:  # one call a node: the cluster's view, and the node's own in case it has none
        try:
            cluster, service = connections.get(node).call(
                [AgentOp("cluster.nodes"), AgentOp("service.get", {"name": "ClusSvc"})], timeout_s=60)
        except EnforcerError:
            own[node] = "unknown"
            continue
        if cluster.ok:
            states = {aliases.get(n["name"].lower(), n["name"]): n["state"] for n in cluster.unwrap(node)["nodes"]}
            return {n: states.get(n, "unknown") for n in plan.nodes}
        own[node] = "Down" if service.ok and service.unwrap(node)["status"] == "Stopped" else "unknown"
    return own


def execute(plan: Plan, run_id: str, connections: Connections, forks: int, observer: RunObserver | None = None,
            stop: threading.Event | None = None) -> RunResult:
    observer = observer or RunObserver()
    stop = stop or threading.Event()
    todo = [cp for cp in plan.clusters if cp.changes and not cp.error]
    slots = threading.BoundedSemaphore(forks)
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(todo) or 1))) as pool:
        runs: dict[str, Any] = dict(zip([cp.cluster for cp in todo], pool.map(
            lambda cp: run_cluster(cp, connections, observer, stop, slots), todo), strict=True))
    clusters = [runs.get(cp.cluster) or ClusterRun(cp.cluster, cp.nodes, error=cp.error) for cp in plan.clusters]
    return RunResult(run_id, plan, clusters, interrupted=stop.is_set())
