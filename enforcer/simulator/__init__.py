"""A simulated Windows failover cluster that speaks real WinRM on loopback.

It is a stand-in for Windows, so it never imports the engine: only the
protocol (WS-Management, the agent bootstrap and its JSON ops) joins them.

    from enforcer.simulator import simulate
    with simulate("kb252641-broken", auth="ntlm") as sim:
        sim.endpoints[0].url, sim.user, sim.password, sim.journal.records()
"""

from .faults import Fault, FaultSpecError, parse_fault
from .scenarios import ScenarioError, available as available_scenarios
from .server import AUTH_MODES, PASSWORD_ENV, Simulation, simulate

__all__ = ["AUTH_MODES", "PASSWORD_ENV", "Fault", "FaultSpecError", "ScenarioError", "Simulation",
           "available_scenarios", "parse_fault", "simulate"]
