"""The transport interface: run a batch of agent ops on one node.

Resources and the executor see only this; the WinRM details (shells,
envelopes, retries) stay behind it, and tests can swap in another
implementation without touching the engine.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import OpFailed


@dataclass(frozen=True)
class AgentOp:
    """One op of the catalogue (enforcer/protocol/catalogue.json)."""

    op: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str = ""


@dataclass(frozen=True)
class OpResult:
    id: str
    op: str
    ok: bool
    data: dict[str, Any] | None = None
    error_kind: str | None = None
    error_message: str | None = None

    def unwrap(self, node: str) -> dict[str, Any]:
        """The op's data, or OpFailed carrying the agent's error kind and message."""
        if not self.ok:
            raise OpFailed(node, self.op, self.error_kind or "failed", self.error_message or "")
        return self.data or {}


class Transport(abc.ABC):
    """A connection to one node, reused for every call of a run."""

    node: str

    @abc.abstractmethod
    def call(self, ops: Sequence[AgentOp], *, timeout_s: float | None = None,
             stop_on_error: bool = False) -> list[OpResult]:
        """Run `ops` in order in ONE agent invocation; results come back in the same order."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the node's shell and connection; safe to call twice."""

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
