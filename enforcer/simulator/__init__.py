"""A simulated Windows failover cluster that speaks real WinRM on loopback.

It is a stand-in for Windows, so it never imports the engine: only the
protocol (WS-Management, the agent bootstrap and its JSON ops) joins them.

    from enforcer.simulator import simulate
    with simulate("kb252641-broken", auth="ntlm") as sim:
        sim.endpoints[0].url, sim.user, sim.password, sim.journal.records()

`simulate(..., serve=False)` opens no port: `sim.op_host` runs the agent's stdin by node name.
"""

from importlib import import_module
from typing import Any

AUTH_MODES = ("ntlm", "basic-https", "basic-http", "kerberos", "certificate", "credssp-http", "credssp-https")
PASSWORD_ENV = "ENFORCER_PASSWORD"

# Loaded on first use (PEP 562): `enforcer plan` builds the `enforcer sim` flags without importing the simulator.
_LAZY = {"Fault": ("faults", "Fault"), "FaultSpecError": ("faults", "FaultSpecError"),
         "parse_fault": ("faults", "parse_fault"), "ScenarioError": ("scenarios", "ScenarioError"),
         "available_scenarios": ("scenarios", "available"), "Simulation": ("server", "Simulation"),
         "simulate": ("server", "simulate")}

__all__ = ["AUTH_MODES", "PASSWORD_ENV", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    return getattr(import_module(f".{module}", __name__), attribute)
