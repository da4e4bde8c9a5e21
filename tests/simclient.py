"""Clients of the simulator as a pywinrm user writes them, shared by the tests."""
from __future__ import annotations

import winrm

from enforcer.model import ConnectionSpec
from enforcer.simulator import Simulation
from enforcer.transport.winrm import WinRMTransport

AUTH_MODES = ("ntlm", "basic-http", "basic-https")


def pywinrm_kwargs(sim: Simulation) -> dict:
    """What a pywinrm user passes to reach the simulator in its auth mode."""
    if sim.auth == "ntlm":
        return {"transport": "ntlm"}
    if sim.auth == "basic-https":
        return {"transport": "ssl", "ca_trust_path": sim.ca_path}
    return {"transport": "basic"}


def session(sim: Simulation, node: str | None = None, **extra) -> winrm.Session:
    endpoint = sim.endpoint(node) if node else sim.endpoints[0]
    return winrm.Session(endpoint.url, auth=(sim.user, sim.password), **pywinrm_kwargs(sim), **extra)


def protocol(sim: Simulation, node: str | None = None, **extra) -> winrm.Protocol:
    endpoint = sim.endpoint(node) if node else sim.endpoints[0]
    return winrm.Protocol(endpoint.url, username=sim.user, password=sim.password, **pywinrm_kwargs(sim), **extra)


def transport(sim: Simulation, node: str) -> WinRMTransport:
    endpoint = sim.endpoint(node)
    return WinRMTransport(node, ConnectionSpec(
        host=endpoint.host, port=endpoint.port, scheme=endpoint.scheme,
        auth="ntlm" if sim.auth == "ntlm" else "basic", user=sim.user, password=sim.password,
        ca_trust_path=sim.ca_path, operation_timeout_s=5, read_timeout_s=10))
