"""enforcer's exception tree: one place to see everything that can go wrong.

    EnforcerError
    ├── InputError            bad playbook, inventory, vars or flags (exit 4)
    └── NodeError             something failed on or on the way to one node
        ├── TransportError    the node could not be talked to
        │   ├── NodeUnreachable      connection refused/reset, DNS, TLS (exit 3)
        │   ├── AuthenticationFailed credentials rejected (exit 3)
        │   ├── TransportTimeout     no answer within the deadline
        │   └── WSManError           the WinRM service answered with a fault
        └── AgentError        the agent ran but its answer is not usable
            └── OpFailed      an op answered ok=false (kind from the catalogue)

Messages never carry credentials: they are built from the node name and the
server's answer only.
"""

from __future__ import annotations


class EnforcerError(Exception):
    """Base of every error enforcer raises on purpose."""


class InputError(EnforcerError):
    """The user's input is wrong; `location` is 'file:line' when known."""

    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.location = location
        self.detail = message


class NodeError(EnforcerError):
    def __init__(self, node: str, message: str) -> None:
        super().__init__(f"{node}: {message}")
        self.node = node
        self.detail = message


class TransportError(NodeError):
    """The request may or may not have reached the node: callers re-read before retrying a change."""


class NodeUnreachable(TransportError):
    pass


class AuthenticationFailed(TransportError):
    pass


class TransportTimeout(TransportError):
    pass


class WSManError(TransportError):
    def __init__(self, node: str, message: str, code: int | None = None) -> None:
        super().__init__(node, message)
        self.code = code


class AgentError(NodeError):
    pass


class OpFailed(AgentError):
    def __init__(self, node: str, op: str, kind: str, message: str) -> None:
        super().__init__(node, f"{op} failed ({kind}): {message}")
        self.op = op
        self.kind = kind
