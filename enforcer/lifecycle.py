"""One run's lifecycle: lock -> connections -> plan -> persist -> apply -> persist -> history -> metrics.

`plan`, `apply`, `schedule`, `demo` (through the CLI's commands) and
`restore` all run through here, so every run is locked, recorded and
closed the same way. The callers keep only their own decisions — whether to
go on after the plan (a confirmation, a maintenance window, a busy cluster) —
made between `plan()` and `apply()`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import api
from .audit import audit_of, process_alive
from .executor import RunObserver, backups_of
from .history import History, now
from .lease import Leases
from .locks import ClusterLocks
from .metrics import Metrics
from .model import Change, Inventory, Plan, RunResult, StepResult
from .runs import save_plan, save_run
from .statedir import StateDir
from .transport.pool import Connections

# The runs that change clusters take the lease on them; `plan` and monitor rounds write nothing on the nodes.
LEASE_MODES = frozenset({"apply", "enforce", "demo"})
log = logging.getLogger("enforcer.run")


@dataclass
class Recorder:
    """Where runs are kept: their records in the state directory, the history, the metrics file."""

    state: StateDir
    redact: Callable[[str], str]
    history: History | None = None
    metrics: Metrics | None = None

    @classmethod
    def open(cls, redact: Callable[[str], str], history: bool = True, metrics_file: str | None = None) -> Recorder:
        state = StateDir()
        recorder = cls(state, redact, History(state.history_db, redact) if history else None,
                       Metrics(metrics_file) if metrics_file else None)
        if recorder.history is not None:
            recorder.history.mark_dead(socket.gethostname(), process_alive)
        return recorder

    def write(self, run_id: str, entry: Callable[[History], None]) -> None:
        """Write the run's rows into the history (unless --no-history); the metrics file follows them."""
        if self.history is None:
            return
        entry(self.history)
        if self.metrics:
            for row in self.history.runs(run_id=run_id):
                self.metrics.update(row)


@contextlib.contextmanager
def held(inventory: Inventory, clusters: list[str], run_id: str, state: StateDir, forks: int = 10, *,
         lock: bool = True) -> Iterator[tuple[ClusterLocks | None, Connections]]:
    """The clusters' locks (taken together or not at all: ClusterLocked), then the nodes' connections.

    Both are released in reverse order whatever happens: shells closed, then locks.
    """
    locks = ClusterLocks(state.locks, clusters, run_id) if lock else None
    with locks or contextlib.nullcontext(), Connections(inventory, forks) as connections:
        yield locks, connections


class _StepInFlight(RunObserver):
    """Records the step in flight in the cluster's lock and lease, so a run after a crash, or one this run keeps
    waiting, can say where this one is."""

    def __init__(self, locks: ClusterLocks | None, leases: Leases | None, observer: RunObserver | None,
                 backups_taken: Callable[[str, list[dict[str, Any]]], None]) -> None:
        self.locks, self.leases, self.observer = locks, leases, observer or RunObserver()
        self.backups_taken = backups_taken

    def step_started(self, change: Change) -> None:
        step = f"'{change.task}' ({change.type}) on {change.node or change.via}"
        if self.locks:
            self.locks.locks[change.cluster].note_step(step)
        if self.leases:
            self.leases.step(step)
        self.observer.step_started(change)

    def step_finished(self, result: StepResult) -> None:
        backups = backups_of(result.data)
        if backups:
            self.backups_taken(result.change.cluster, backups)
        self.observer.step_finished(result)

    def progress(self, cluster: str, message: str) -> None:
        self.observer.progress(cluster, message)


class Run:
    """A run of a loaded playbook, as a context: entering locks (unless `lock=False`) and connects.

        with Run(loaded, "apply", recorder) as run:
            plan = run.plan()
            if approved(plan):
                result = run.apply(observer, stop)
            else:
                run.record_plan()
    """

    def __init__(self, loaded: api.Loaded, mode: str, recorder: Recorder, *, lock: bool = True) -> None:
        self.loaded, self.mode, self.recorder = loaded, mode, recorder
        self.run_id, self.started = api.new_run_id(), now()
        self._lock = lock
        self.leases: Leases | None = None
        self.audit: dict[str, Any] = {}
        self._stack = contextlib.ExitStack()
        self.locks: ClusterLocks | None = None
        self.connections: Connections | None = None
        self.planned: Plan | None = None
        self.paths: list[Path] = []

    def __enter__(self) -> Run:
        self.locks, self.connections = self._stack.enter_context(held(
            self.loaded.inventory, [c.name for c in self.loaded.clusters], self.run_id, self.recorder.state,
            self.loaded.forks, lock=self._lock))
        if self.mode in LEASE_MODES:
            self.leases = Leases(self.run_id, self.started, self.loaded.clusters, self.connections)
            self._stack.callback(self.leases.release_all)
        self.audit = {"run_id": self.run_id, "mode": self.mode, "started": self.started,
                      **audit_of(self.loaded.playbook.source, self.loaded.selection)}
        if self.recorder.history is not None:
            self.recorder.history.record_start(
                self.run_id, [c.name for c in self.loaded.clusters], self.loaded.playbook.source,
                self.loaded.inventory.source, self.mode, self.started, self.audit)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, *_: object) -> None:
        """Shells, lease and lock given back; a run that ended before recording how says so in the history."""
        try:
            self._stack.close()
        finally:
            if self.recorder.history is not None:
                if kind is None:
                    self.recorder.history.record_end(self.run_id, "failed", "ended without recording an outcome")
                else:
                    interrupted = issubclass(kind, KeyboardInterrupt)
                    self.recorder.history.record_end(self.run_id, "interrupted" if interrupted else "failed",
                                                     str(error) or kind.__name__)

    def _backups_taken(self, cluster: str, backups: list[dict[str, Any]]) -> None:
        if self.recorder.history is not None:
            self.recorder.history.record_backups(self.run_id, cluster, backups)

    def interrupted_runs(self) -> list[tuple[str, dict[str, Any]]]:
        """Clusters whose last run died with a step in flight (kill -9), with that run's lock record."""
        return self.locks.interrupted_runs() if self.locks else []

    def plan(self, release: bool = False) -> Plan:
        """Read the nodes, plan, and save the plan; `release` closes each shell once read (a run that only plans)."""
        assert self.connections is not None, "plan() runs inside `with Run(...)`"
        self.planned = api.plan(self.loaded, self.connections, self.run_id, release, self.leases)
        self.planned.audit = self.audit
        save_plan(self.recorder.state, self.run_id, self.planned, self.recorder.redact)
        return self.planned

    def record_plan(self, mode: str | None = None) -> None:
        """The plan is where this run ends (a dry run, a refusal, a monitor round): into the history."""
        planned = self.planned
        assert planned is not None, "record_plan() follows plan()"
        self.recorder.write(self.run_id, lambda history: history.record_plan(self.run_id, planned, mode or self.mode,
                                                                              self.started))

    def record_skip(self, cluster: str, reason: str) -> None:
        self.recorder.write(self.run_id, lambda history: history.record_skip(
            self.run_id, cluster, self.loaded.playbook.source, self.loaded.inventory.source, self.mode, reason))

    def apply(self, observer: RunObserver | None = None, stop: threading.Event | None = None) -> RunResult:
        """Carry out the plan just made, then save the run's records and history while the locks are held."""
        assert self.planned is not None and self.connections is not None, "apply() follows plan()"
        stop = stop or threading.Event()
        if self.leases:
            def lost(cluster: str, why: str) -> None:
                log.error("%s: this run's lease was lost (%s): stopping after the step under way", cluster, why)
                stop.set()
            self.leases.keep(lost)
        result = api.apply(self.planned, self.connections, self.run_id, self.loaded.forks,
                           _StepInFlight(self.locks, self.leases, observer, self._backups_taken), stop)
        self.paths = save_run(self.recorder.state, result, self.recorder.redact)
        self.recorder.write(self.run_id, lambda history: history.record_run(result, self.mode, self.started))
        return result
