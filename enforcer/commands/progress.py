"""What an operator sees while apply runs: each step as it ends, and a step that takes a while as it goes.

A step that has run for SLOW_STEP_S says so at default verbosity, then its elapsed time every
REPORT_EVERY_S, so a 30-second restart is never 30 seconds of silence (-v prints every step as it starts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..console import Console
from ..executor import RunObserver
from ..model import Change, StepResult
from ..report import step_line

SLOW_STEP_S = 2.0
REPORT_EVERY_S = 10.0


class LiveProgress(RunObserver):
    """A context: the ticker that reports slow steps runs while it is open."""

    def __init__(self, console: Console, slow_s: float = SLOW_STEP_S,
                 interrupted: Callable[[], int] = lambda: 0) -> None:
        self.console, self.slow_s, self.interrupted = console, slow_s, interrupted
        self._told = 0  # interrupts already answered
        self._running: dict[int, tuple[Change, float, float]] = {}  # step -> (change, started, next report)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)

    def __enter__(self) -> LiveProgress:
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()

    def step_started(self, change: Change) -> None:
        self.console.info(f"  ... [{change.node or change.via}] {change.task}")
        now = time.monotonic()
        with self._lock:
            self._running[id(change)] = (change, now, now + self.slow_s)

    def step_finished(self, result: StepResult) -> None:
        with self._lock:
            self._running.pop(id(result.change), None)
        self.console.err(step_line(result))

    def progress(self, cluster: str, message: str) -> None:
        self.console.err(f"  [{cluster}] {message}")

    def _answer_interrupts(self) -> None:
        """Say at once what an interrupt does: the steps under way finish, nodes stopped are started again."""
        count = self.interrupted()
        if count <= self._told:
            return
        with self._lock:
            steps = [f"'{change.task}' on {change.node or change.via}" for change, _, _ in self._running.values()]
        doing = f"finishing {', '.join(steps)}" if steps else "finishing the step under way"
        if self._told == 0:
            self.console.err(f"interrupted: {doing}, then starting again every node the run stopped (last down, "
                             f"first up) and reporting; nothing new is started. Another Ctrl-C will not abandon "
                             f"the nodes.")
        if count > 1:
            self.console.err(f"still {doing} and recovering: enforcer does not leave nodes down; wait for it "
                             f"(kill -9 would, and the next run then starts them)")
        self._told = count

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            self._answer_interrupts()
            now = time.monotonic()
            with self._lock:
                due = [(change, started) for change, started, report in self._running.values() if report <= now]
                for change, started in due:
                    self._running[id(change)] = (change, started, now + REPORT_EVERY_S)
            for change, started in due:
                first = now - started < self.slow_s + REPORT_EVERY_S / 2
                self.console.err(f"  ... [{change.node or change.via}] {change.task}: "
                                 f"{'started, ' if first else 'still '}running for {now - started:.0f} s")
