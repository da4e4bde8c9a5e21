"""Shared fixtures: the simulator as a user points enforcer at it, and the contract audit on throughout."""

from __future__ import annotations

import contextlib
import os

import pytest

from enforcer.simulator import PASSWORD_ENV, simulate
from enforcer.simulator.audit import AUDIT, ENV as CONTRACT_AUDIT_ENV

pytest_plugins = ["enforcer.simulator.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract_violations_expected: the test sends requests outside the "
                                       "catalogue on purpose, so the simulator does not audit it")
    os.environ[CONTRACT_AUDIT_ENV] = "1"  # simulators started as subprocesses audit too
    AUDIT.enabled = True


@pytest.fixture(autouse=True)
def contract_audit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Fails the test during which a simulator saw a request or gave an answer that breaks the catalogue."""
    if request.node.get_closest_marker("contract_violations_expected"):
        monkeypatch.setattr(AUDIT, "enabled", False)
        monkeypatch.setenv(CONTRACT_AUDIT_ENV, "0")
        yield
        return
    AUDIT.violations.clear()
    yield
    found, AUDIT.violations[:] = list(AUDIT.violations), []
    if found:
        pytest.fail("the simulator saw the contract broken:\n" + "\n".join(found), pytrace=False)


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
