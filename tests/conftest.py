"""Shared fixtures: the simulator as a user points enforcer at it."""

from __future__ import annotations

import contextlib

import pytest

from enforcer.simulator import PASSWORD_ENV, simulate

pytest_plugins = ["enforcer.simulator.fixtures"]


@pytest.fixture
def cli_sim(tmp_path, monkeypatch):
    """start(scenario, inventory_vars=..., **simulation options) -> (simulation, inventory path).

    Like a user: an inventory file on disk, the password in $ENFORCER_PASSWORD, a state dir of its own.
    """
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path / "state"))
    with contextlib.ExitStack() as stack:
        def start(scenario: str, inventory_vars: dict | None = None, **options):
            options.setdefault("time_scale", 0.005)
            sim = stack.enter_context(simulate(scenario, **options))
            inventory = tmp_path / "inventory.yml"
            sim.write_inventory(str(inventory), **(inventory_vars or {}))
            monkeypatch.setenv(PASSWORD_ENV, sim.password)
            return sim, str(inventory)

        yield start
