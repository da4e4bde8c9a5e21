"""The WinRM HTTP listener of every simulated node.

One acceptor thread watches every node's listening socket; each connection
gets a thread that speaks HTTP/1.1 keep-alive, authenticates (Basic, or NTLM
with pyspnego as acceptor and WinRM message encryption), and hands the
decrypted SOAP to the node's WinRS service. Responses go out in one write
with TCP_NODELAY, so no request waits on a delayed ACK.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import functools
import re
import select
import selectors
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

import spnego
import spnego.exceptions

from ..protocol import sealing
from . import wsman
from .acceptors import Acceptor, CredSSPAcceptor, KerberosAcceptor, NtlmAcceptor
from .entities import WINRM_MAX_ENVELOPE_KB
from .faults import REQUEST_KINDS, Fault, FaultBook
from .kdc import Kdc
from .tls import certificate_user
from .winrs import NodeShells, TransportFault

# The Authorization a client authenticating with its TLS certificate sends (MS-WSMV 2.2.9.2).
CERTIFICATE_SCHEME = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

_MAX_BODY = 16 * 1024 * 1024


@dataclass
class Endpoint:
    cluster: str
    node: str
    host: str
    port: int
    shells: NodeShells
    sock: socket.socket | None = None
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/wsman"


@dataclass
class _Connection:
    sock: socket.socket
    endpoint: Endpoint
    peer: str
    security: spnego.ContextProxy | None = None  # NTLM's or Kerberos' session context: it seals the messages
    mutual: str | None = None  # the WWW-Authenticate value that completes the client's context
    user: str | None = None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


class HttpRequestError(Exception):
    pass


class WinRMServer:
    def __init__(self, auth: str, domain: str, user: str, password: str, faults: FaultBook,
                 latency_ms: float = 0.0, tls: ssl.SSLContext | None = None, kdc: Kdc | None = None,
                 idle_timeout_s: float | None = None, credssp_tls: str = "1.3") -> None:
        """`idle_timeout_s`: real seconds an idle keep-alive connection is kept (None: forever)."""
        self.auth = auth
        self.domain, self.user, self.password = domain, user, password
        self.faults = faults
        self.latency_s = latency_ms / 1000
        self.tls = tls
        self.idle_timeout_s = idle_timeout_s
        self.requests: Counter[str] = Counter()
        self.connections: Counter[str] = Counter()
        self._endpoints: list[Endpoint] = []
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._wake, self._waker = socket.socketpair()  # stop() wakes the acceptor at once: it never polls
        self._selector.register(self._wake, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._listeners: list[socket.socket] = []
        self._conns_lock = threading.Lock()
        self.credssp = auth.startswith("credssp")
        self._acceptor: Acceptor | None = KerberosAcceptor(kdc) if kdc is not None else \
            NtlmAcceptor(domain, user, password) if auth == "ntlm" else \
            CredSSPAcceptor(domain, user, password, credssp_tls) if self.credssp else None
        self._schemes = ("Negotiate", "Kerberos") if kdc is not None else ("CredSSP",) if self.credssp \
            else ("Negotiate",)

    def add(self, endpoint: Endpoint) -> None:
        endpoint.scheme = "https" if self.tls else "http"
        if endpoint.sock is None:
            raise ValueError(f"{endpoint.node} has no listening socket to serve on")
        self._endpoints.append(endpoint)
        self._listeners.append(endpoint.sock)
        endpoint.sock.setblocking(False)
        self._selector.register(endpoint.sock, selectors.EVENT_READ, endpoint)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name="winrm-accept", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._waker.send(b"\0")
        if self._thread:
            self._thread.join(timeout=5)
        for listener in self._listeners:
            self._selector.unregister(listener)
            listener.close()
        self._selector.close()
        self._wake.close()
        self._waker.close()
        with self._conns_lock:
            for conn in list(self._conns):
                _reset(conn)
        if self._acceptor:
            self._acceptor.close()

    # -- accepting -------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select():
                endpoint: Endpoint | None = key.data
                if endpoint is None:
                    break  # stop()
                assert isinstance(key.fileobj, socket.socket)
                try:
                    conn, addr = key.fileobj.accept()
                except (BlockingIOError, OSError):
                    continue
                conn.setblocking(True)
                self.connections[endpoint.node] += 1
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=self._serve, args=(conn, endpoint, addr[0]), daemon=True,
                                 name=f"winrm-{endpoint.node}").start()

    def _serve(self, raw: socket.socket, endpoint: Endpoint, peer: str) -> None:
        sock = raw
        with self._conns_lock:
            self._conns.add(raw)
        try:
            if self.tls:
                sock = self.tls.wrap_socket(raw, server_side=True)
            conn = _Connection(sock, endpoint, peer)
            reader = sock.makefile("rb")
            while not self._stop.is_set():
                if not self._waits_for_more(sock):
                    break  # HTTP.sys drops a keep-alive connection idle this long, silently
                request = _read_request(reader)
                if request is None:
                    break
                if not self._answer(conn, *request):
                    break
        except (OSError, ssl.SSLError, HttpRequestError):
            pass
        finally:
            with self._conns_lock:
                self._conns.discard(raw)
            try:
                sock.close()
            except OSError:
                pass

    def _waits_for_more(self, sock: socket.socket) -> bool:
        """Whether a next request begins before the idle timeout (plain HTTP). Waited for by select: clients do not
        pipeline requests, so nothing is left in the reader's buffer between two of them."""
        if self.idle_timeout_s is None or isinstance(sock, ssl.SSLSocket):
            return True  # TLS listeners keep idle connections: see docs/windows-fidelity.md, row 4
        return bool(select.select([sock], [], [], self.idle_timeout_s)[0])

    # -- one request -------------------------------------------------------------
    def _answer(self, conn: _Connection, method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        """Answer one request; False ends the connection."""
        node = conn.endpoint.node
        self.requests[node] += 1
        fault = self.faults.take(node, "any", REQUEST_KINDS)
        if fault and fault.kind == "refuse":
            _reset(conn.sock)
            return False
        if fault and fault.kind == "hang":
            self._stop.wait(fault.ms / 1000 if fault.ms else None)
            _reset(conn.sock)
            return False
        if fault and fault.kind == "slow":
            time.sleep(fault.ms / 1000)
        response = self._respond(conn, method, path, headers, body, fault)
        if self.latency_s:
            time.sleep(self.latency_s)
        keep_alive = not response.close and headers.get("connection", "").lower() != "close"
        head = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}",
                "Server: Microsoft-HTTPAPI/2.0", f"Date: {_http_date()}",
                f"Content-Length: {len(response.body)}"]
        head += [f"{k}: {v}" for k, v in response.headers]
        if not keep_alive:
            head.append("Connection: close")
        conn.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
        return keep_alive

    def _respond(self, conn: _Connection, method: str, path: str, headers: dict[str, str], body: bytes,
                 fault: Fault | None) -> _Response:
        if path.split("?")[0].lower() != "/wsman":
            return _Response(404, b"", close=True)
        if method != "POST":
            return _Response(405, b"")
        if len(body) > WINRM_MAX_ENVELOPE_KB * 1024:  # MaxEnvelopeSizekb (windows-facts §5.4)
            return _Response(413, close=True)
        denied = self._authenticate(conn, headers)
        if denied is not None:
            return denied
        if conn.security is not None and not self.tls:  # message encryption: over HTTP, after authentication
            if not re.search(r"multipart/(x-multi-)?encrypted", headers.get("content-type", "")):
                if not body:  # the client's empty authentication request; Kerberos' answer completes it
                    mutual, conn.mutual = conn.mutual, None
                    return _Response(200, headers=[("WWW-Authenticate", mutual)] if mutual else [])
                # AllowUnencrypted is false: a body in clear after authentication is refused (windows-facts §5.5)
                return _Response(401, headers=[("WWW-Authenticate", s) for s in self._schemes])
            try:
                body = sealing.unseal(conn.security, body, credssp=self.credssp)
            except (ValueError, spnego.exceptions.SpnegoError):
                return _Response(400, close=True)
        if fault and fault.kind == "http500":
            return _Response(500, b"Internal Server Error (injected fault)",
                             [("Content-Type", "text/plain")])
        status, soap = self._dispatch(conn, body, fault)
        # HTTP.sys ends a connection between messages, never inside a handshake: after the answer to a SOAP request
        close = self.faults.take(conn.endpoint.node, "any", ("close",)) is not None
        # `clear`: a 200 in clear on an encrypted session, as a man in the middle would write one
        forged = status == 200 and self.faults.take(conn.endpoint.node, "any", ("clear",)) is not None
        if conn.security is not None and not self.tls and not forged:
            return _Response(status, sealing.seal(conn.security, soap, credssp=self.credssp),
                             [("Content-Type", sealing.CREDSSP_CONTENT_TYPE if self.credssp else sealing.CONTENT_TYPE)],
                             close)
        return _Response(status, soap, [("Content-Type", "application/soap+xml;charset=UTF-8")], close)

    def _dispatch(self, conn: _Connection, body: bytes, fault: Fault | None) -> tuple[int, bytes]:
        shells = conn.endpoint.shells
        machine = conn.endpoint.host
        relates_to = ""
        try:
            req = wsman.parse_request(body)
            relates_to = req.message_id
            if fault and fault.kind == "wsman":
                raise wsman.internal_error("The WS-Management service failed (injected fault).")
            if req.action == wsman.ACTION_CREATE:
                return 200, shells.create(req, conn.user or self.user, conn.endpoint.url, conn.peer)
            handler = {wsman.ACTION_DELETE: shells.delete, wsman.ACTION_COMMAND: shells.command,
                       wsman.ACTION_SEND: shells.send, wsman.ACTION_RECEIVE: shells.receive,
                       wsman.ACTION_SIGNAL: shells.signal}.get(req.action)
            if handler is None:
                raise wsman.WSManFault(2150858817, "w:ActionNotSupported",
                                       "The action is not supported by the service. ",
                                       f"The WS-Management service does not support the action {req.action}. ")
            return 200, handler(req)
        except TransportFault as exc:
            if exc.fault.kind == "http500":
                return 500, b"Internal Server Error (injected fault)"
            if exc.fault.kind == "wsman":
                return 500, wsman.fault_response(
                    wsman.internal_error("The WS-Management service failed (injected fault)."), relates_to, machine)
            _reset(conn.sock)
            raise OSError("connection reset (injected refuse fault)") from exc
        except wsman.WSManFault as exc:
            return 500, wsman.fault_response(exc, relates_to, machine)

    def _authenticate(self, conn: _Connection, headers: dict[str, str]) -> _Response | None:
        """None when the request may proceed; otherwise the 401 to send."""
        header = headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if self.auth == "certificate":
            # The client certificate, verified by TLS against the CA, maps to the account by its UPN (§6.5).
            peer = conn.sock.getpeercert(binary_form=True) if isinstance(conn.sock, ssl.SSLSocket) else None
            user = certificate_user(peer)
            if header.strip() == CERTIFICATE_SCHEME and user and user.lower() == self.user.lower():
                conn.user = user
                return None
            return _Response(401, headers=[("WWW-Authenticate", CERTIFICATE_SCHEME)])
        if self.auth in ("basic-http", "basic-https"):
            try:
                user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", None
            if scheme.lower() == "basic" and self._valid(user, password):
                conn.user = user.rpartition("\\")[2]
                return None
            return _Response(401, headers=[("WWW-Authenticate", 'Basic realm="WSMAN"')])
        offered = [("WWW-Authenticate", s) for s in self._schemes]
        if self._acceptor and scheme.lower() in {s.lower() for s in self._schemes} | {"ntlm"} and token:
            try:
                conn.security, out = self._acceptor.step(conn.security, scheme.lower(), base64.b64decode(token))
            except (spnego.exceptions.SpnegoError, binascii.Error):
                conn.security = None
                return _Response(401, headers=offered)
            answer = f"{scheme} {base64.b64encode(out or b'').decode()}"
            if not conn.security.complete:
                return _Response(401, headers=[("WWW-Authenticate", answer)])
            conn.mutual = answer if out else None  # Kerberos' AP-REP, on the 200 that ends the handshake
            principal = str(conn.security.client_principal or self.user)
            conn.user = principal.rpartition("\\")[2].partition("@")[0]
            return None
        if conn.security is not None and conn.security.complete:
            return None
        return _Response(401, headers=offered)

    def _valid(self, user: str, password: str | None) -> bool:
        return user.rpartition("\\")[2].lower() == self.user.lower() and password == self.password


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            411: "Length Required", 413: "Request Entity Too Large", 500: "Internal Server Error"}


@functools.lru_cache(maxsize=2)
def _date_at(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)


def _http_date() -> str:
    return _date_at(int(time.time()))


def _reset(sock: socket.socket) -> None:
    """Abort with RST, as a host whose WinRM listener is gone would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def _read_request(reader: BinaryIO) -> tuple[str, str, dict[str, str], bytes] | None:
    line = reader.readline(65537)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise HttpRequestError("bad request line")
    headers: dict[str, str] = {}
    while True:
        raw = reader.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length < 0 or length > _MAX_BODY:
        raise HttpRequestError("body too large")
    body = reader.read(length) if length else b""
    return parts[0], parts[1], headers, body
