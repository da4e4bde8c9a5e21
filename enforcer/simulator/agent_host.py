"""Runs the enforcer agent's JSON ops when a node receives the agent bootstrap.

The simulator never interprets PowerShell: it recognises the bootstrap by its
first line, checks that stdin carries an agent that defines the entry point,
and executes the request's ops against the model. Faults aimed at an op fire
here, in op order, so ops before the faulted one have run — as they would
on a real node whose answer was lost. With the contract audit on (audit.py),
each op's request and answer are checked against the catalogue here.

`OpHost` reaches the same agent by node name with no WinRM in between: the
far end of the engine's in-process transport, for the component tests.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import json
import sys
import threading
import time
import traceback
import zlib
from dataclasses import dataclass
from typing import Any

from .audit import AUDIT
from .entities import STATUS_CONTROL_C_EXIT, Clock, ProcessKilled, SimError, agent_process
from .faults import Fault, FaultBook
from .model import Cluster
from .ops import OPS, OpContext

BOOTSTRAP_MARKER = "# enforcer-agent-bootstrap v1"
AGENT_ENTRY_POINT = "function Invoke-EnforcerAgent"
TRANSPORT_KINDS = ("refuse", "http500", "wsman", "hang")


@dataclass
class AgentOutcome:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    transport_fault: Fault | None = None


def is_bootstrap(script: str) -> bool:
    return script.lstrip("\ufeff").startswith(BOOTSTRAP_MARKER)


def clixml_error(message: str) -> bytes:
    """A PowerShell error record as it reaches a WinRS client on stderr."""
    text = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
            f'<S S="Error">{text}_x000D__x000A_</S></Objs>').encode()


def _decode_stdin(stdin: bytes) -> tuple[str, dict[str, Any]]:
    lines = stdin.decode("ascii").split("\n")
    if len(lines) < 2:
        raise ValueError("expected two base64 lines on stdin (agent, request)")
    agent = _unpacked(lines[0].strip())
    request = json.loads(base64.b64decode(lines[1].strip(), validate=True).decode("utf-8"))
    if not isinstance(request, dict) or request.get("v") != 1 or not isinstance(request.get("ops"), list):
        raise ValueError('request must be {"v": 1, "ops": [...]}')
    return agent, request


def request_ops(stdin: bytes) -> list[str]:
    """The op names of the agent request in `stdin`, once it is all there; none for anything else."""
    lines = stdin.split(b"\n")
    if len(lines) < 2 or not lines[1].strip():
        return []
    try:
        request = json.loads(base64.b64decode(lines[1].strip(), validate=True))
        return [str(op.get("op")) for op in request.get("ops", []) if isinstance(op, dict)]
    except (ValueError, AttributeError):
        return []


@functools.lru_cache(maxsize=4)
def _unpacked(line: str) -> str:
    """The agent from its stdin line; every node gets the same few, so each is decoded once."""
    return gzip.decompress(base64.b64decode(line, validate=True)).decode("utf-8")


def run_agent(ctx: OpContext, faults: FaultBook, stdin: bytes, killed: threading.Event | None = None
              ) -> AgentOutcome:
    """Run the request's ops in order. `killed` is set when the command is terminated or its shell deleted: the
    op under way stops at its next killable step (a child process's work) and no later op runs. A `kill` fault
    does the same half-way through its op, or right after an op with no second such step."""
    try:
        agent, request = _decode_stdin(stdin)
    except (ValueError, UnicodeDecodeError, binascii.Error, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        return AgentOutcome(stderr=f"enforcer agent: bad input: {exc}\r\n".encode(), exit_code=2)
    if AGENT_ENTRY_POINT not in agent:
        return AgentOutcome(stderr=clixml_error(
            "Invoke-EnforcerAgent : The term 'Invoke-EnforcerAgent' is not recognized as the name of a "
            "cmdlet, function, script file, or operable program."), exit_code=1)

    results: list[dict[str, Any]] = []
    failed = False
    killed = killed or threading.Event()
    for op in request["ops"]:
        if killed.is_set():
            return AgentOutcome(exit_code=STATUS_CONTROL_C_EXIT)
        op = op if isinstance(op, dict) else {}
        op_id, name, args = op.get("id"), str(op.get("op")), op.get("args") or {}
        fault = faults.take(ctx.node.name, name, TRANSPORT_KINDS + ("fail", "slow", "kill"))
        if fault and fault.kind in TRANSPORT_KINDS:
            _journal(ctx, name, args, f"error: injected {fault.kind} fault")
            return AgentOutcome(transport_fault=fault)
        if fault and fault.kind == "slow":
            time.sleep(fault.ms / 1000)
        if failed and request.get("stop_on_error"):
            results.append(_error(op_id, "failed", "skipped: an earlier op failed"))
            continue
        spare = 1 if fault and fault.kind == "kill" else None
        try:
            with agent_process(killed, spare):
                result = _run_op(ctx, op_id, name, args, injected_failure=bool(fault and fault.kind == "fail"))
        except ProcessKilled:
            _journal(ctx, name, args if isinstance(args, dict) else {}, "killed half-way")
            return AgentOutcome(exit_code=STATUS_CONTROL_C_EXIT)
        if spare is not None:  # no second step to die at: it dies as it answers
            return AgentOutcome(exit_code=STATUS_CONTROL_C_EXIT)
        failed = failed or not result["ok"]
        results.append(result)
    body = json.dumps({"v": 1, "results": results}, ensure_ascii=True, separators=(",", ":"))
    return AgentOutcome(stdout=body.encode("ascii") + b"\r\n")


class OpHost:
    """Every simulated node's agent by node name, and the clock their time passes on.

    A transport fault comes back in the outcome for the caller to act out (over HTTP, httpd.py does).
    """

    def __init__(self, clusters: list[Cluster], clock: Clock, user: str) -> None:
        """`user`: the account the agent runs as, DOMAIN\\user."""
        self._contexts = {node.name.lower(): OpContext(cluster, node, user)
                          for cluster in clusters for node in cluster.nodes}
        self._clock = clock

    def run(self, node: str, stdin: bytes) -> AgentOutcome:
        ctx = self._contexts[node.lower()]
        return run_agent(ctx, ctx.cluster.faults, stdin)

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)


def _run_op(ctx: OpContext, op_id: Any, name: str, args: Any, injected_failure: bool) -> dict[str, Any]:
    if AUDIT.enabled:
        result = _audited(ctx, op_id, name, args, injected_failure)
    else:
        result = _answer(ctx, op_id, name, args, injected_failure)
    outcome = "ok" if result["ok"] else f"error: {result['error']['kind']}: {result['error']['message']}"
    _journal(ctx, name, args if isinstance(args, dict) else {}, outcome)
    return result


def _audited(ctx: OpContext, op_id: Any, name: str, args: Any, injected_failure: bool) -> dict[str, Any]:
    """The op's answer, unless its request or its answer breaks the contract: then the violation, as 'failed'."""
    violation = AUDIT.request_violation(name, args)
    if violation is None:
        result = _answer(ctx, op_id, name, args, injected_failure)
        violation = AUDIT.answer_violation(name, result)
    return result if violation is None else _error(op_id, "failed", violation)


def _answer(ctx: OpContext, op_id: Any, name: str, args: Any, injected_failure: bool) -> dict[str, Any]:
    handler = OPS.get(name)
    if handler is None:
        return _error(op_id, "unknown_op", f"unknown op '{name}'")
    if not isinstance(args, dict):
        return _error(op_id, "invalid_args", "args must be an object")
    if injected_failure:
        return _error(op_id, "failed", f"{name} failed (injected fault)")
    try:
        return {"id": op_id, "ok": True, "data": handler(ctx, args)}
    except SimError as exc:
        return _error(op_id, exc.kind, exc.message)
    except ProcessKilled:
        raise
    except Exception as exc:  # a simulator bug must not look like a node's answer
        traceback.print_exc(file=sys.stderr)
        return _error(op_id, "failed", f"simulator error: {type(exc).__name__}: {exc}")


def _error(op_id: Any, kind: str, message: str) -> dict[str, Any]:
    return {"id": op_id, "ok": False, "error": {"kind": kind, "message": message}}


def _journal(ctx: OpContext, name: str, args: dict, outcome: str) -> None:
    ctx.cluster.journal.op(ctx.cluster.name, ctx.node.name, name, args, outcome)
