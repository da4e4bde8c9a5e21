"""The transport interface: run a batch of agent ops on one node.

Resources and the executor see only this; the WinRM details (shells,
envelopes) stay behind it, and tests can swap in another implementation
without touching the engine. What every carrier of the agent shares (the
request, the answer, retrying a read whose answer was lost) is
`AgentTransport`, so a transport differs only in how stdin gets to the agent.
"""

from __future__ import annotations

import abc
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentError, AuthenticationFailed, NodeUnreachable, OpFailed, TransportError, TransportTimeout
from ..protocol import agent

READ_RETRY_BACKOFF_S = (0.2, 0.6)  # a read-only call is tried three times in all
ops_log = logging.getLogger("enforcer.ops")


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

    @abc.abstractmethod
    def open(self) -> None:
        """Authenticate and get the node ready for calls; AuthenticationFailed when the credentials are rejected."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AgentTransport(Transport):
    """A transport that runs the agent: one request in, one JSON answer out, however stdin travels.

    A read-only call whose answer was lost is sent again (after a fresh start and a backoff): reading
    twice is harmless, and a transient glitch should not fail a run. A change is never resent here;
    the executor re-reads first (resources' settled()).
    """

    def __init__(self, node: str, default_timeout_s: float) -> None:
        self.node = node
        self.default_timeout_s = default_timeout_s

    def call(self, ops: Sequence[AgentOp], *, timeout_s: float | None = None,
             stop_on_error: bool = False) -> list[OpResult]:
        timeout_s = timeout_s or self.default_timeout_s
        ops_log.info("%s: %s", self.node, ", ".join(o.op for o in ops))
        retries = READ_RETRY_BACKOFF_S if all(o.op in agent.read_only_ops() for o in ops) else ()
        for backoff in retries:
            try:
                return self._call_once(ops, timeout_s, stop_on_error)
            except (AuthenticationFailed, NodeUnreachable):
                raise
            except TransportError as exc:
                ops_log.info("%s: retrying read-only %s after: %s", self.node, ops[0].op, exc.detail)
                self.close()  # a fresh start: the old shell may still hold the lost command
                self._backoff(backoff)
        return self._call_once(ops, timeout_s, stop_on_error)

    def _call_once(self, ops: Sequence[AgentOp], timeout_s: float, stop_on_error: bool) -> list[OpResult]:
        named = [AgentOp(o.op, o.args, o.id or f"op{i}") for i, o in enumerate(ops)]
        request: dict[str, Any] = {"v": 1, "ops": [{"id": o.id, "op": o.op, "args": o.args} for o in named]}
        if stop_on_error:
            request["stop_on_error"] = True
        stdout, stderr, code = self._run_agent(agent.stdin_payload(request), timeout_s)
        return decode_answer(self.node, named, stdout, stderr, code)

    @abc.abstractmethod
    def _run_agent(self, stdin: bytes, timeout_s: float) -> tuple[bytes, bytes, int]:
        """Run the agent with `stdin`: its stdout, stderr and exit code; TransportError when the answer is lost."""

    def _backoff(self, seconds: float) -> None:
        """Wait before retrying a read; a transport with a clock of its own waits on that one."""
        time.sleep(seconds)

    def timed_out(self, timeout_s: float) -> TransportTimeout:
        """The error for an agent that did not answer in time, worded alike whatever carried the call."""
        return TransportTimeout(self.node, f"the agent did not answer within {timeout_s:g} s")


KILLED_EXIT_CODES = (-1073741510, 3221225786)  # STATUS_CONTROL_C_EXIT, signed and not: a killed process


def decode_answer(node: str, ops: Sequence[AgentOp], stdout: bytes, stderr: bytes, code: int) -> list[OpResult]:
    """The agent's answer as one result per op (ops carry their ids); AgentError if it is not usable, and
    TransportError, a lost answer, when the agent was killed before it answered."""
    if code in KILLED_EXIT_CODES and not stdout.strip():
        raise TransportError(node, "the agent was killed before it answered (its command was terminated or its "
                                   "shell deleted): what it had done by then is unknown")
    if code != 0:
        raise AgentError(node, f"the agent exited with code {code}: {_clean(stderr)}")
    try:  # the answer is the last line: a module that writes to the console cannot break it
        lines = stdout.decode("utf-8").strip().splitlines()
        answer = json.loads(lines[-1] if lines else "")
        results = {r["id"]: r for r in answer["results"]}
        return [_result(o, results[o.id]) for o in ops]
    except (ValueError, KeyError, TypeError) as exc:
        raise AgentError(node, f"the agent's answer is not the expected JSON: {exc}") from exc


def _result(op: AgentOp, raw: dict[str, Any]) -> OpResult:
    error = raw.get("error") or {}
    return OpResult(op.id, op.op, bool(raw["ok"]), raw.get("data"), error.get("kind"), error.get("message"))


def _clean(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    if text.startswith("#< CLIXML"):
        text = " ".join(re.findall(r"<S S=\"Error\">(.*?)</S>", text)).replace("_x000D__x000A_", " ")
    return text.strip()[:500]
