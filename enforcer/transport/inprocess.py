"""The in-process transport: the agent's stdin handed straight to simulated nodes, without HTTP.

It exists for the component tests. Over WinRM every call crosses pywinrm, HTTP,
NTLM and WS-Management, and a lost answer costs a real read timeout; here the
same request (AgentTransport builds it, and decodes the answer, for both) goes
to an op host in the same process, so the engine's behaviour under faults is
checked in milliseconds while the WinRM transport keeps its end-to-end tests.

A fault the simulated node acts out below the agent becomes the error the WinRM
transport raises for it; a hang is a timeout at once, in simulated time, with
nothing to wait for. The engine never imports the simulator: the op host is
anything with `run(node, stdin)` and `sleep(seconds)` (the simulator's is
`Simulation.op_host`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..errors import NodeUnreachable, TransportError, WSManError
from ..model import ConnectionSpec
from .base import AgentTransport
from .pool import TransportFactory

WSMAN_INTERNAL_ERROR = 2150858770  # w:InternalError: the WinRM service could not process the request


class TransportFault(Protocol):
    kind: str  # refuse, http500, wsman or hang


class AgentOutcome(Protocol):
    stdout: bytes
    stderr: bytes
    exit_code: int
    transport_fault: TransportFault | None


class OpHost(Protocol):
    """Simulated nodes that run the agent's stdin, and the clock their time passes on."""

    def run(self, node: str, stdin: bytes) -> AgentOutcome: ...

    def sleep(self, seconds: float) -> None: ...


class InProcessTransport(AgentTransport):
    def __init__(self, node: str, spec: ConnectionSpec, host: OpHost) -> None:
        super().__init__(node, 2 * spec.read_timeout_s)  # as WinRMTransport: the same timeouts, the same messages
        self.endpoint = spec.endpoint
        self.host = host

    def _run_agent(self, stdin: bytes, timeout_s: float) -> tuple[bytes, bytes, int]:
        outcome = self.host.run(self.node, stdin)
        if outcome.transport_fault is not None:
            raise _LOST[outcome.transport_fault.kind](self, timeout_s)
        return outcome.stdout, outcome.stderr, outcome.exit_code

    def _backoff(self, seconds: float) -> None:
        self.host.sleep(seconds)

    def open(self) -> None:
        """Nothing to authenticate: the simulation is in this process."""

    def close(self) -> None:
        """Nothing to release: there is no shell and no connection."""


# What the WinRM transport raises when the simulator acts each fault out over HTTP (tests/test_sim_faults.py).
_LOST: dict[str, Callable[[InProcessTransport, float], TransportError]] = {
    "refuse": lambda t, _: NodeUnreachable(t.node, f"cannot connect to {t.endpoint} (connection reset)"),
    "http500": lambda t, _: TransportError(t.node, f"HTTP 500 from {t.endpoint}"),
    "wsman": lambda t, _: WSManError(t.node, f"WinRM fault {WSMAN_INTERNAL_ERROR}: The WS-Management service "
                                             f"cannot process the request.", WSMAN_INTERNAL_ERROR),
    "hang": lambda t, timeout_s: t.timed_out(timeout_s),
}


def in_process(host: OpHost) -> TransportFactory:
    """A Connections factory over `host`: `Connections(inventory, forks, factory=in_process(sim.op_host))`."""
    return lambda node, spec: InProcessTransport(node, spec, host)
