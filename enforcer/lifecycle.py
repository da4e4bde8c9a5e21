"""One run's lifecycle: lock -> connections -> plan -> persist -> apply -> persist -> history -> metrics.

`plan`, `apply`, `schedule`, `demo` (through the CLI's commands) and
`restore` all run through here, so every run is locked, recorded and
closed the same way. The callers keep only their own decisions — whether to
go on after the plan (a confirmation, a maintenance window, a busy cluster) —
made between `plan()` and `apply()`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import api
from .executor import RunObserver
from .history import History, now
from .locks import ClusterLocks
from .metrics import Metrics
from .model import Change, Inventory, Plan, RunResult, StepResult
from .runs import save_plan, save_run
from .statedir import StateDir
from .transport.pool import Connections, TransportFactory


@dataclass
class Recorder:
    """Where runs are kept: their records in the state directory, the history, the metrics file."""

    state: StateDir
    redact: Callable[[str], str]
    history: History | None = None
    metrics: Metrics | None = None

    @classmethod
    def open(cls, redact: Callable[[str], str], history: bool = True, metrics_file: str | None = None,
             state: StateDir | None = None) -> Recorder:
        state = state or StateDir()
        return cls(state, redact, History(state.history_db, redact) if history else None,
                   Metrics(metrics_file) if metrics_file else None)

    def recorded(self, run_id: str) -> None:
        """The history holds a new row for the run: the metrics file follows it."""
        if self.metrics and self.history:
            for row in self.history.runs():
                if row["id"] == run_id:
                    self.metrics.update(row)


@contextlib.contextmanager
def held(inventory: Inventory, clusters: list[str], run_id: str, state: StateDir, forks: int = 10, *,
         lock: bool = True, factory: TransportFactory | None = None) -> Iterator[tuple[ClusterLocks | None,
                                                                                    Connections]]:
    """The clusters' locks (taken together or not at all: ClusterLocked), then the nodes' connections.

    Both are released in reverse order whatever happens: shells closed, then locks.
    """
    locks = ClusterLocks(state.locks, clusters, run_id) if lock else None
    with locks or contextlib.nullcontext(), Connections(inventory, forks, factory) as connections:
        yield locks, connections


class _StepInFlight(RunObserver):
    """Records the step in flight in the cluster's lock, so a run after a crash can say where this one stopped."""

    def __init__(self, locks: ClusterLocks | None, observer: RunObserver | None) -> None:
        self.locks, self.observer = locks, observer or RunObserver()

    def step_started(self, change: Change) -> None:
        if self.locks:
            self.locks.locks[change.cluster].note_step(
                f"'{change.task}' ({change.type}) on {change.node or change.via}")
        self.observer.step_started(change)

    def step_finished(self, result: StepResult) -> None:
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

    def __init__(self, loaded: api.Loaded, mode: str, recorder: Recorder, *, lock: bool = True,
                 factory: TransportFactory | None = None) -> None:
        self.loaded, self.mode, self.recorder = loaded, mode, recorder
        self.run_id, self.started = api.new_run_id(), now()
        self._lock, self._factory = lock, factory
        self._stack = contextlib.ExitStack()
        self.locks: ClusterLocks | None = None
        self.connections: Connections | None = None
        self.planned: Plan | None = None
        self.result: RunResult | None = None
        self.paths: list[Path] = []

    def __enter__(self) -> Run:
        self.locks, self.connections = self._stack.enter_context(held(
            self.loaded.inventory, [c.name for c in self.loaded.clusters], self.run_id, self.recorder.state,
            self.loaded.forks, lock=self._lock, factory=self._factory))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def interrupted_runs(self) -> list[tuple[str, dict[str, Any]]]:
        """Clusters whose last run died with a step in flight (kill -9), with that run's lock record."""
        return self.locks.interrupted_runs() if self.locks else []

    def plan(self, release: bool = False) -> Plan:
        """Read the nodes, plan, and save the plan; `release` closes each shell once read (a run that only plans)."""
        assert self.connections is not None, "plan() runs inside `with Run(...)`"
        self.planned = api.plan(self.loaded, self.connections, self.run_id, release)
        save_plan(self.recorder.state, self.run_id, self.planned, self.recorder.redact)
        return self.planned

    def record_plan(self, mode: str | None = None) -> None:
        """The plan is where this run ends (a dry run, a refusal, a monitor round): into the history."""
        assert self.planned is not None, "record_plan() follows plan()"
        if self.recorder.history:
            self.recorder.history.record_plan(self.run_id, self.planned, mode or self.mode, self.started)
            self.recorder.recorded(self.run_id)

    def record_skip(self, cluster: str, reason: str) -> None:
        if self.recorder.history:
            self.recorder.history.record_skip(self.run_id, cluster, self.loaded.playbook.source,
                                              self.loaded.inventory.source, self.mode, reason)
            self.recorder.recorded(self.run_id)

    def apply(self, observer: RunObserver | None = None, stop: threading.Event | None = None) -> RunResult:
        """Carry out the plan just made, then save the run's records and history while the locks are held."""
        assert self.planned is not None and self.connections is not None, "apply() follows plan()"
        self.result = api.apply(self.planned, self.connections, self.run_id, self.loaded.forks,
                                _StepInFlight(self.locks, observer), stop)
        self.paths = save_run(self.recorder.state, self.result, self.recorder.redact)
        if self.recorder.history:
            self.recorder.history.record_run(self.result, self.mode, self.started)
            self.recorder.recorded(self.run_id)
        return self.result
