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

import logging
import time
from typing import Any

import requests
import winrm.exceptions

from ..errors import AuthenticationFailed, EnforcerError, NodeUnreachable, TransportError, TransportTimeout, WSManError
from ..model import ConnectionSpec
from ..protocol import agent
from .base import AgentTransport
from .pywinrm_compat import auth_plugin_rejected, library_missing, patched_protocol
from .wire import WireError

QUOTA_FAULTS = (2150859173, 2150859174)  # max shells / max operations per user: a new shell clears them
wire_log = logging.getLogger("enforcer.wire")


class WinRMTransport(AgentTransport):
    def __init__(self, node: str, spec: ConnectionSpec) -> None:
        super().__init__(node, 2 * spec.read_timeout_s)  # a call without its own timeout: twice the read timeout
        self.spec = spec
        self._protocol: Any = None  # pywinrm's Protocol
        self._shell_id: str | None = None
        self._unsignalled: str | None = None  # a finished command, signalled before the next one

    # -- connection ----------------------------------------------------------------
    def _connect(self) -> Any:
        if self._protocol is None:
            spec = self.spec
            missing = library_missing(spec.auth, spec.scheme)
            if missing:  # said per node when it is used, so an inventory naming it can still be read and shown
                raise NodeUnreachable(self.node, f"ansible_winrm_transport {spec.auth}: {missing}")
            auth = {"basic": "basic" if spec.scheme == "http" else "ssl"}.get(spec.auth, spec.auth)
            self._protocol = self._guard(lambda: patched_protocol(
                endpoint=spec.endpoint, transport=auth, username=spec.user or None, password=spec.password,
                server_cert_validation="validate" if spec.cert_validation else "ignore",
                ca_trust_path=spec.ca_trust_path, cert_pem=spec.cert_pem, cert_key_pem=spec.cert_key_pem,
                operation_timeout_sec=spec.operation_timeout_s, read_timeout_sec=spec.read_timeout_s,
                kerberos_hostname_override=spec.kerberos_hostname_override,
                kerberos_delegation=spec.kerberos_delegation))
            transport = self._protocol.transport
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

    def open(self) -> None:
        self._shell()  # the Create that opens the shell is the request that authenticates

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
    def _run_agent(self, stdin: bytes, timeout_s: float) -> tuple[bytes, bytes, int]:
        protocol = self._connect()
        command_id = self._start_command()
        deadline = time.monotonic() + timeout_s
        try:
            self._guard(lambda: protocol.send_command_input(self._shell(), command_id, stdin, end=True),
                        lost="the request was sent and may be running")
            out, err = [], []
            while True:
                try:
                    o, e, code, done = self._guard(
                        lambda: protocol.get_command_output_raw(self._shell(), command_id), lost=None)
                except winrm.exceptions.WinRMOperationTimeoutError:  # no output yet: ask again
                    if time.monotonic() >= deadline:
                        raise self.timed_out(timeout_s) from None
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
        lost = "the agent may have started, and got no request"
        try:
            return self._guard(lambda: protocol.run_command(self._shell(), agent.POWERSHELL,
                                                            agent.command_arguments(), console_mode_stdin=False),
                               lost=lost)
        except WSManError as exc:
            if exc.code not in QUOTA_FAULTS:
                raise
            self.close()  # the quota counts per shell: a fresh shell starts from zero
            protocol = self._connect()
            return self._guard(lambda: protocol.run_command(self._shell(), agent.POWERSHELL,
                                                            agent.command_arguments(), console_mode_stdin=False),
                               lost=lost)

    def _cleanup(self, command_id: str) -> None:
        if self._protocol is None or self._shell_id is None:
            return
        try:
            self._protocol.cleanup_command(self._shell_id, command_id)
        except Exception:  # the command is gone either way; the shell is closed at the end of the run
            pass

    def _guard(self, action: Any, lost: str | None = "") -> Any:
        """Run one WinRM exchange, turning library exceptions into enforcer's tree.

        A loaded Windows node may answer any exchange with the OperationTimeout fault (windows-facts §5.3):
        on a Receive that is "no output yet" (`lost=None` lets the caller ask again); on a Command or a Send the
        answer is lost, and `lost` says what may have happened meanwhile.
        """
        try:
            return action()
        except winrm.exceptions.WinRMOperationTimeoutError:
            if lost is None:
                raise
            raise TransportTimeout(self.node, f"{self.spec.endpoint} answered a WinRM operation timeout"
                                              + (f": {lost}" if lost else "")) from None
        except winrm.exceptions.InvalidCredentialsError as exc:
            raise self._rejected(str(exc)) from exc
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
        except EnforcerError:
            raise
        except Exception as exc:  # an auth plugin's own (requests_credssp): never a traceback mid-run
            if auth_plugin_rejected(exc):
                raise self._rejected("") from exc
            raise TransportError(self.node, f"{type(exc).__name__}: {exc}") from exc

    def _rejected(self, detail: str) -> AuthenticationFailed:
        return AuthenticationFailed(self.node, f"the credentials of {self.spec.user or 'the certificate'} were "
                                               f"rejected by {self.spec.endpoint}"
                                               + (f": {detail}" if detail and "rejected the credentials" not in detail
                                                  else ""))


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    for needle, reason in (("refused", "connection refused"), ("reset", "connection reset"),
                           ("aborted", "connection aborted"), ("name or service", "unknown host")):
        if needle in text:
            return reason
    return type(exc).__name__
