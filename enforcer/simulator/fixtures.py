"""pytest fixtures: `pytest_plugins = ["enforcer.simulator.fixtures"]` in a conftest.

`sim` starts the broken two-node cluster with NTLM; a test that needs another
shape marks itself, e.g. `@pytest.mark.sim(scenario="healthy", auth="basic-https")`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Simulation, simulate


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sim(**options): options for the `sim` fixture (see Simulation)")


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Simulation]:
    marker = request.node.get_closest_marker("sim")
    options = dict(marker.kwargs) if marker else {}
    scenario = options.pop("scenario", "kb252641-broken")
    with simulate(scenario, **options) as simulation:
        yield simulation
