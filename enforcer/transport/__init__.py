"""How enforcer talks to nodes: a small Transport interface and its WinRM implementation."""

from .base import AgentOp, OpResult, Transport

__all__ = ["AgentOp", "OpResult", "Transport"]
