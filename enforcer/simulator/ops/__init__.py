"""The simulator's implementation of the agent op catalogue, one module per op family.

The families are the PowerShell agent's (enforcer/protocol/powershell/, a
test checks both family by family against catalogue.json). Each family
module declares its handlers in its own OPS, so adding an op to a family
touches that module only. A handler takes the op's context (the node it
runs on) and the op's arguments and returns the op's `data`, or raises
SimError with a catalogue error kind.
"""

from __future__ import annotations

from . import cluster, dtc, events, facts, lease, path, registry, service
from .common import Handler, OpContext

FAMILIES = (registry, path, service, dtc, events, cluster, lease, facts)
OPS: dict[str, Handler] = {name: handler for family in FAMILIES for name, handler in family.OPS.items()}

__all__ = ["FAMILIES", "OPS", "Handler", "OpContext"]
