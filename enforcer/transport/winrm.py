"""The WinRM transport: pywinrm's Protocol, one shell per node per run.

A run opens one WinRS shell per node and sends every agent call through it:
a call is Command + Send (agent and request on stdin) + Receive(s) + Signal,
four requests plus one per extra Receive, instead of the shell create and
delete pywinrm's Session adds to every command.

What a run does not need is not sent (figures: bench/run.py, bench/PROFILE.md):
- NTLM over HTTP sends its Negotiate token with the first request, as Windows'
  own client does, instead of after an anonymous 401 (two handshake requests, not three);
- a command that finished is signalled (terminate) just before the shell's next
  command, so the last one of a run is cleaned up by the shell's Delete alone;
- requests stops looking up the system's proxies on every request when there are none.
A converged plan is thus 7 requests per node (was 9), the protocol's floor.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import requests
import winrm.exceptions
from winrm.protocol import Protocol

from ..errors import (AgentError, AuthenticationFailed, NodeUnreachable, TransportError, TransportTimeout,
                      WSManError)
from ..protocol import agent
from . import envelope
from .base import AgentOp, OpResult, Transport
from .lean import LeanTransport
from .wire import WireError

QUOTA_FAULTS = (2150859173, 2150859174)  # max shells / max operations per user: a new shell clears them
READ_RETRY_BACKOFF_S = (0.2, 0.6)  # a read-only call is tried three times in all
wire_log = logging.getLogger("enforcer.wire")
ops_log = logging.getLogger("enforcer.ops")


@dataclass(frozen=True)
class ConnectionSpec:
    """How to reach one node, from its `ansible_*` variables."""

    host: str
    port: int = 5985
    scheme: str = "http"
    auth: str = "ntlm"
    user: str = ""
    password: str = field(default="", repr=False)
    cert_validation: bool = True
    ca_trust_path: str | None = None
    operation_timeout_s: int = 20
    read_timeout_s: int = 30
    cert_pem: str | None = None
    cert_key_pem: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/wsman"


class WinRMTransport(Transport):
    def __init__(self, node: str, spec: ConnectionSpec) -> None:
        self.node = node
        self.spec = spec
        self._protocol: Protocol | None = None
        self._shell_id: str | None = None
        self._unsignalled: str | None = None  # a finished command, signalled before the next one

    # -- connection ----------------------------------------------------------------
    def _connect(self) -> Protocol:
        if self._protocol is None:
            envelope.use_for_pywinrm()
            spec = self.spec
            auth = {"basic": "basic" if spec.scheme == "http" else "ssl"}.get(spec.auth, spec.auth)
            self._protocol = self._guard(lambda: Protocol(
                spec.endpoint, transport=auth, username=spec.user or None, password=spec.password,
                server_cert_validation="validate" if spec.cert_validation else "ignore",
                ca_trust_path=spec.ca_trust_path, cert_pem=spec.cert_pem, cert_key_pem=spec.cert_key_pem,
                operation_timeout_sec=spec.operation_timeout_s, read_timeout_sec=spec.read_timeout_s))
            transport = self._protocol.transport
            transport.__class__ = LeanTransport  # the same transport, minus the requests above
            if wire_log.isEnabledFor(logging.INFO):
                self._guard(lambda: transport.observe(self._log_exchange))
        return self._protocol

    def _log_exchange(self, status: int, size: int, ms: float) -> None:
        """-vvv: one line per HTTP exchange; never headers, which carry credentials."""
        wire_log.info("%s POST %s -> %s (%d bytes, %.1f ms)", self.node, self.spec.endpoint, status, size, ms)

    def _shell(self) -> str:
        if self._shell_id is None:
            self._shell_id = self._guard(lambda: self._connect().open_shell(codepage=65001))
        return self._shell_id

    def close(self) -> None:
        protocol, shell_id = self._protocol, self._shell_id
        self._protocol = self._shell_id = self._unsignalled = None  # Delete ends the shell's commands too
        if protocol is None:
            return
        try:
            if shell_id:
                protocol.close_shell(shell_id)
            else:
                protocol.transport.close_session()
        except Exception:  # closing is best effort: the node may be the reason we are closing
            protocol.transport.close_session()

    # -- calls -----------------------------------------------------------------------
    def call(self, ops: Sequence[AgentOp], *, timeout_s: float | None = None,
             stop_on_error: bool = False) -> list[OpResult]:
        """One agent invocation; read-only calls are retried with backoff on a lost answer.

        A call without its own timeout may take twice the read timeout.
        """
        timeout_s = timeout_s or 2 * self.spec.read_timeout_s
        ops_log.info("%s: %s", self.node, ", ".join(o.op for o in ops))
        retries = READ_RETRY_BACKOFF_S if all(o.op in agent.read_only_ops() for o in ops) else ()
        for backoff in retries:
            try:
                return self._call_once(ops, timeout_s, stop_on_error)
            except (AuthenticationFailed, NodeUnreachable):
                raise
            except TransportError as exc:
                ops_log.info("%s: retrying read-only %s after: %s", self.node, ops[0].op, exc.detail)
                self.close()  # a fresh shell: the old one may still hold the lost command
                time.sleep(backoff)
        return self._call_once(ops, timeout_s, stop_on_error)

    def _call_once(self, ops: Sequence[AgentOp], timeout_s: float, stop_on_error: bool) -> list[OpResult]:
        named = [AgentOp(o.op, o.args, o.id or f"op{i}") for i, o in enumerate(ops)]
        request: dict[str, Any] = {"v": 1, "ops": [{"id": o.id, "op": o.op, "args": o.args} for o in named]}
        if stop_on_error:
            request["stop_on_error"] = True
        stdout, stderr, code = self._run_agent(agent.stdin_payload(request), timeout_s)
        if code != 0:
            raise AgentError(self.node, f"the agent exited with code {code}: {_clean(stderr)}")
        try:  # the answer is the last line: a module that writes to the console cannot break it
            lines = stdout.decode("utf-8").strip().splitlines()
            answer = json.loads(lines[-1] if lines else "")
            results = {r["id"]: r for r in answer["results"]}
            return [_result(o, results[o.id]) for o in named]
        except (ValueError, KeyError, TypeError) as exc:
            raise AgentError(self.node, f"the agent's answer is not the expected JSON: {exc}") from exc

    def _run_agent(self, stdin: bytes, timeout_s: float) -> tuple[bytes, bytes, int]:
        protocol = self._connect()
        command_id = self._start_command()
        deadline = time.monotonic() + timeout_s
        try:
            self._guard(lambda: protocol.send_command_input(self._shell(), command_id, stdin, end=True))
            out, err = [], []
            while True:
                try:
                    o, e, code, done = self._guard(
                        lambda: protocol.get_command_output_raw(self._shell(), command_id))
                except winrm.exceptions.WinRMOperationTimeoutError:
                    if time.monotonic() >= deadline:
                        raise TransportTimeout(self.node, f"the agent did not answer within {timeout_s:g} s")
                    continue
                out.append(o)
                err.append(e)
                if done:
                    self._unsignalled = command_id
                    return b"".join(out), b"".join(err), code
        finally:
            if self._unsignalled != command_id:
                self._cleanup(command_id)

    def _start_command(self) -> str:
        protocol = self._connect()
        finished, self._unsignalled = self._unsignalled, None
        if finished:
            self._cleanup(finished)
        try:
            return self._guard(lambda: protocol.run_command(self._shell(), agent.POWERSHELL,
                                                            agent.command_arguments()))
        except WSManError as exc:
            if exc.code not in QUOTA_FAULTS:
                raise
            self.close()  # the quota counts per shell: a fresh shell starts from zero
            protocol = self._connect()
            return self._guard(lambda: protocol.run_command(self._shell(), agent.POWERSHELL,
                                                            agent.command_arguments()))

    def _cleanup(self, command_id: str) -> None:
        if self._protocol is None or self._shell_id is None:
            return
        try:
            self._protocol.cleanup_command(self._shell_id, command_id)
        except Exception:  # the command is gone either way; the shell is closed at the end of the run
            pass

    def _guard(self, action: Any) -> Any:
        """Run one WinRM exchange, turning library exceptions into enforcer's tree."""
        try:
            return action()
        except winrm.exceptions.WinRMOperationTimeoutError:
            raise
        except winrm.exceptions.InvalidCredentialsError as exc:
            raise AuthenticationFailed(self.node, f"the credentials were rejected by {self.spec.endpoint}") from exc
        except winrm.exceptions.WSManFaultError as exc:
            raise WSManError(self.node, f"WinRM fault {exc.wsman_fault_code}: {(exc.reason or '').strip()}",
                             exc.wsman_fault_code) from exc
        except winrm.exceptions.WinRMTransportError as exc:
            raise TransportError(self.node, f"HTTP {exc.code} from {self.spec.endpoint}") from exc
        except requests.exceptions.SSLError as exc:
            raise NodeUnreachable(self.node, f"TLS failed with {self.spec.endpoint}: certificate not trusted "
                                             f"or handshake refused") from exc
        except (requests.exceptions.Timeout, TimeoutError) as exc:
            raise TransportTimeout(self.node, f"no answer from {self.spec.endpoint} within "
                                              f"{self.spec.read_timeout_s} s") from exc
        except (requests.exceptions.ConnectionError, OSError) as exc:
            raise NodeUnreachable(self.node, f"cannot connect to {self.spec.endpoint} "
                                             f"({_reason(exc)})") from exc
        except WireError as exc:
            raise TransportError(self.node, f"{exc} ({self.spec.endpoint})") from exc
        except winrm.exceptions.WinRMError as exc:
            raise TransportError(self.node, f"WinRM error: {exc}") from exc


def _result(op: AgentOp, raw: dict[str, Any]) -> OpResult:
    error = raw.get("error") or {}
    return OpResult(op.id, op.op, bool(raw["ok"]), raw.get("data"), error.get("kind"), error.get("message"))


def _clean(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    if text.startswith("#< CLIXML"):
        text = " ".join(re.findall(r"<S S=\"Error\">(.*?)</S>", text)).replace("_x000D__x000A_", " ")
    return text.strip()[:500]


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    for needle, reason in (("refused", "connection refused"), ("reset", "connection reset"),
                           ("aborted", "connection aborted"), ("name or service", "unknown host")):
        if needle in text:
            return reason
    return type(exc).__name__
