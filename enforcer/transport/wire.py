"""One keep-alive HTTP/1.1 connection to a WinRM listener over plain HTTP, authenticated as Windows' own client does.

pywinrm sends through requests, which through urllib3 and http.client spends
about 4 ms of CPU per node on a converged plan (7 requests: connection pools,
hooks, header parsing through the email package, proxy settings merged per
request). A run sends every request of a node down one connection, in order,
and WinRM over HTTP needs little of that machinery, so this client writes each
request with one `sendall` and reads the answer with a buffered reader.
Figures: bench/PROFILE.md.

What it speaks:
- NTLM with message encryption: the Negotiate token goes with the first request
  (no anonymous request to learn the scheme), the context is set up by an
  empty request, and every body is sealed (MS-WSMV 2.2.9.1.1). A lost
  connection is re-authenticated before the next request;
- Kerberos with message encryption, the same way: the ticket (AP-REQ) goes
  with an empty request, whose 200 must carry the server's AP-REP (mutual
  authentication: it is the node's own service that answers), then every
  body is sealed with the Kerberos session key (kerberos.py);
- Basic, where the caller allowed it over HTTP.

Failures surface as the built-in exceptions the transport maps already
(ConnectionError, TimeoutError) or as `WireError`. Nothing here ever puts a
header, so never a credential, into a message.
"""

from __future__ import annotations

import base64
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import spnego
import spnego.exceptions

from ..protocol import sealing
from . import kerberos
from .pywinrm_compat import ntlm_hashes

_SOAP = "application/soap+xml;charset=UTF-8"
_MAX_BODY = 64 * 1024 * 1024

Exchange = Callable[[int, int, float], None]  # status, body bytes, milliseconds: for -vvv


class WireError(Exception):
    """The server's answer cannot be read as HTTP, or its authentication failed to complete."""


class Unauthorized(WireError):
    """The server refused the credentials (HTTP 401 after the handshake)."""


@dataclass
class Answer:
    status: int
    body: bytes  # unsealed when the server sealed it


class HttpWire:
    def __init__(self, endpoint: str, auth: str, username: str, password: str, timeout_s: float | None,
                 on_exchange: Exchange | None = None, service_host: str | None = None, delegate: bool = False) -> None:
        """`service_host`: the name in the node's Kerberos service principal (default: the endpoint's host)."""
        if auth not in ("ntlm", "basic", "kerberos"):
            raise ValueError(f"HttpWire speaks ntlm, kerberos or basic, not {auth}")
        parts = urlsplit(endpoint)
        if parts.scheme != "http":
            raise ValueError("HttpWire speaks plain HTTP; HTTPS goes through requests")
        self.host, self.port = unquote(parts.hostname or ""), parts.port or 5985  # an IPv6 zone is %25-escaped
        self.path = parts.path or "/wsman"
        self.auth, self.username, self.password = auth, username, password
        self.timeout_s = timeout_s
        self.on_exchange = on_exchange
        self._sock: socket.socket | None = None
        self._rfile: BinaryIO | None = None
        self.service_host, self.delegate = service_host or self.host, delegate
        self._security: spnego.ContextProxy | None = None  # the session's NTLM or Kerberos context
        self._head = (f"POST {self.path} HTTP/1.1\r\nHost: {_host_header(parts.netloc)}\r\n"
                      "User-Agent: Python WinRM client\r\nAccept-Encoding: identity\r\nAccept: */*\r\n")

    def post(self, message: bytes) -> Answer:
        """Send one SOAP message; the answer's status and (unsealed) body. Non-200 statuses are returned, not raised."""
        self._ready()
        if self.auth == "basic":
            status, headers, body = self._exchange(message, _SOAP, self._basic())
            if status == 401:
                raise Unauthorized("the server rejected the credentials")
            return Answer(status, body)
        security = self._security  # kept here: an answer with `Connection: close` ends the connection and its context
        assert security is not None
        status, headers, body = self._exchange(sealing.seal(security, message), sealing.CONTENT_TYPE)
        if status == 401:
            self.close()
            raise Unauthorized("the server rejected the credentials")
        if sealing.PROTOCOL in headers.get("content-type", ""):
            try:
                body = sealing.unseal(security, body)
            except (ValueError, spnego.exceptions.SpnegoError) as exc:
                self.close()
                raise WireError(f"the server's sealed answer does not unseal: {exc}") from None
        elif status == 200:  # anyone on the path could have written an answer in clear: facts must not come from it
            self.close()
            raise WireError("refused an answer in clear on an encrypted session (it may be forged)")
        return Answer(status, body)

    def close(self) -> None:
        sock, self._sock, self._security = self._sock, None, None
        if self._rfile is not None:
            self._rfile.close()
            self._rfile = None
        if sock is not None:
            sock.close()

    # -- connection and authentication -------------------------------------------
    def _ready(self) -> None:
        """A live connection, authenticated when the scheme binds authentication to it (NTLM, Kerberos)."""
        if self._sock is not None and _dropped(self._sock):
            self.close()  # the server closed an idle keep-alive connection: open another, as urllib3 does
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._rfile = self._sock.makefile("rb")
        if self._security is None and self.auth == "ntlm":
            self._authenticate()
        elif self._security is None and self.auth == "kerberos":
            self._kerberos()

    def _authenticate(self) -> None:
        """Negotiate (answered 401 + challenge), then Authenticate on the same connection (answered 200)."""
        ctx = spnego.client(_ntlm_credential(self.username, self.password), hostname=self.host, service="http",
                            protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
        status, headers, _ = self._exchange(b"", _SOAP, "Negotiate " + base64.b64encode(ctx.step() or b"").decode())
        challenge = _negotiate_token(headers.get("www-authenticate", ""))
        if self._sock is None:
            raise ConnectionResetError("the server closed the connection in the middle of the NTLM handshake")
        if status != 401 or challenge is None:
            self.close()
            raise Unauthorized(f"the server did not offer NTLM (HTTP {status} to the Negotiate token)")
        try:
            token = ctx.step(challenge)
        except spnego.exceptions.SpnegoError as exc:
            self.close()
            raise WireError(f"the server's NTLM challenge is not valid: {type(exc).__name__}") from None
        status, _, _ = self._exchange(b"", _SOAP, "Negotiate " + base64.b64encode(token or b"").decode())
        if status != 200:
            self.close()
            raise Unauthorized("the server rejected the credentials")
        self._security = ctx

    def _kerberos(self) -> None:
        """The ticket with an empty request; the 200 carries the AP-REP that proves the server is the node's."""
        try:
            ctx, token = kerberos.client_context(self.username, self.password, self.service_host, self.delegate)
        except kerberos.KerberosError as exc:
            self.close()
            raise (Unauthorized if exc.credentials else WireError)(str(exc)) from None
        status, headers, _ = self._exchange(b"", _SOAP, "Kerberos " + base64.b64encode(token).decode())
        if status != 200:
            self.close()
            raise Unauthorized(f"the server refused the Kerberos ticket for HTTP/{self.service_host} (HTTP {status})")
        answer = _negotiate_token(headers.get("www-authenticate", ""))
        try:
            if answer is None:
                raise ValueError("no AP-REP")
            ctx.step(answer)
        except (ValueError, spnego.exceptions.SpnegoError):
            self.close()
            raise WireError("the server did not prove it is the node's service (no valid Kerberos mutual "
                            "authentication token)") from None
        self._security = ctx

    def _basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")

    # -- HTTP ---------------------------------------------------------------------------
    def _exchange(self, body: bytes, content_type: str, authorization: str | None = None
                  ) -> tuple[int, dict[str, str], bytes]:
        assert self._sock is not None and self._rfile is not None
        started = time.perf_counter()
        head = self._head + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        if authorization:
            head += f"Authorization: {authorization}\r\n"
        try:
            self._sock.sendall(head.encode("latin-1") + b"\r\n" + body)
            status, headers, answer = _read_response(self._rfile)
        except BaseException:
            self.close()  # a half-read answer leaves the connection unusable
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        if self.on_exchange is not None:
            self.on_exchange(status, len(answer), (time.perf_counter() - started) * 1000)
        return status, headers, answer


def _dropped(sock: socket.socket) -> bool:
    """True when an idle connection is readable: the server closed it (end of stream, or reset), as urllib3 judges.

    One poll() with no wait: a single system call, so a single release of the
    GIL, where a non-blocking peek costs three (two mode switches and the
    recv), each a chance for 50 waiting threads to hand the GIL around. Not
    select() where poll() exists: on POSIX select() cannot watch descriptors
    past 1023. Windows has no poll(), and its select() takes sockets by handle
    with no such limit.
    """
    if not hasattr(select, "poll"):
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _read_response(rfile: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    line = rfile.readline(65537)
    if not line:
        raise ConnectionResetError("connection reset: the server closed the connection without answering")
    version, _, rest = line.decode("latin-1").partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise WireError("the answer is not HTTP/1.x")
    status = int(rest[:3])
    headers: dict[str, str] = {}
    while True:
        raw = rfile.readline(65537)
        if raw in (b"\r\n", b"\n"):
            break
        if not raw:
            raise ConnectionResetError("connection reset while reading the answer's headers")
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, headers, _read_chunked(rfile)
    if "content-length" in headers:
        length = int(headers["content-length"])
        if not 0 <= length <= _MAX_BODY:
            raise WireError(f"the answer's Content-Length {length} is out of range")
        body = rfile.read(length) if length else b""
        if len(body) != length:
            raise ConnectionResetError("connection reset while reading the answer's body")
        return status, headers, body
    headers["connection"] = "close"  # a body delimited by the end of the connection
    return status, headers, rfile.read(_MAX_BODY)


def _read_chunked(rfile: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = rfile.readline(65537)
        if not size_line:
            raise ConnectionResetError("connection reset while reading a chunked answer")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunks.append(rfile.read(size))
        rfile.readline(65537)


def _negotiate_token(header: str) -> bytes | None:
    for part in header.split(","):
        scheme, _, token = part.strip().partition(" ")
        if scheme.lower() in ("negotiate", "ntlm", "kerberos") and token.strip():
            try:
                return base64.b64decode(token.strip())
            except ValueError:
                return None
    return None


def _host_header(netloc: str) -> str:
    """The Host header names an IPv6 address without its zone, which means nothing to the server (RFC 6874)."""
    return re.sub(r"%25[^\]]*\]", "]", netloc)


def _ntlm_credential(username: str, password: str) -> spnego.Password | spnego.NTLMHash:
    hashes = ntlm_hashes(password)
    if hashes is None:
        return spnego.Password(username, password)
    return spnego.NTLMHash(username, lm_hash=hashes[0], nt_hash=hashes[1])
