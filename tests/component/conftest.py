"""The component tier: the engine against simulated clusters in the same process, no HTTP.

The engine's entry points (api.load, plan, apply) run as the CLI runs them, but
their connections are InProcessTransports to a simulation that serves nothing
(`simulate(..., serve=False)`): no pywinrm, no NTLM, no real read timeout, and
simulated time at TIME_SCALE. What only the wire can prove (each auth mode, each
fault acted out over HTTP, the CLI's exit codes) stays in the end-to-end tier.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enforcer import api
from enforcer.executor import RunObserver
from enforcer.inventory import load_inventory
from enforcer.model import Plan, RunResult
from enforcer.simulator import PASSWORD_ENV, Simulation, simulate
from enforcer.transport.inprocess import in_process
from enforcer.transport.pool import Connections

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
SCENARIOS = ROOT / "tests" / "data" / "scenarios"
TIME_SCALE = 0.0005  # a 5 s service stop takes 2.5 ms
RUN_ID = "component"


@dataclass
class InProcessSim:
    """A simulation without listeners, and the engine's entry points wired to it."""

    sim: Simulation
    inventory: str

    def connections(self, forks: int = 10) -> Connections:
        return Connections(load_inventory(self.inventory), forks, factory=in_process(self.sim.op_host))

    def load(self, playbook: str | Path, *extra_vars: str) -> api.Loaded:
        return api.load(api.Options(str(playbook), self.inventory, list(extra_vars)))

    def plan(self, playbook: str | Path, *extra_vars: str) -> Plan:
        loaded = self.load(playbook, *extra_vars)
        with self.connections(loaded.forks) as connections:
            return api.plan(loaded, connections, RUN_ID, release=True)

    def apply(self, playbook: str | Path, *extra_vars: str, observer: RunObserver | None = None,
              stop: threading.Event | None = None) -> RunResult:
        """Plan and apply in one set of connections, as `enforcer apply --yes` does."""
        loaded = self.load(playbook, *extra_vars)
        with self.connections(loaded.forks) as connections:
            plan = api.plan(loaded, connections, RUN_ID)
            return api.apply(plan, connections, RUN_ID, loaded.forks, observer, stop)

    def ops(self, node: str | None = None) -> list[tuple[str, str]]:
        """(op, outcome) of every op the nodes ran, in order; one node's only when `node` is given."""
        return [(r["op"], r["outcome"]) for r in self.sim.journal.records("op") if node in (None, r["node"])]

    def changes(self, obj: str) -> list[tuple[str, str]]:
        """(node, new state) of every change the model recorded to `obj` (e.g. service:ClusSvc), in order."""
        return [(r["node"], r["to"]) for r in self.sim.journal.records("change") if r["object"] == obj]


@pytest.fixture
def in_process_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., InProcessSim]]:
    """start(scenario, *faults, **simulation options) -> InProcessSim.

    The scenario is a scenario's name or a tests/data/scenarios file."""
    with contextlib.ExitStack() as stack:
        def start(scenario: str, *faults: str, **options: Any) -> InProcessSim:
            options.setdefault("time_scale", TIME_SCALE)
            path = SCENARIOS / f"{scenario}.yml"
            sim = stack.enter_context(simulate(str(path) if path.exists() else scenario, serve=False,
                                               faults=faults, **options))
            inventory = tmp_path / "inventory.yml"
            sim.write_inventory(str(inventory))
            monkeypatch.setenv(PASSWORD_ENV, sim.password)
            return InProcessSim(sim, str(inventory))

        yield start
