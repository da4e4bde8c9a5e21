"""enforcer's own HTTP/1.1 client for WinRM over plain HTTP (transport/wire.py), beside the simulator's tests.

The simulator exercises it end to end (NTLM sealed, Basic); these cases cover
what the simulator never does: a server that drops an idle keep-alive
connection, chunked and close-delimited answers, and a proxy in the environment.
"""

from __future__ import annotations

import io
import socket
import threading

import pytest
from winrm.protocol import Protocol

from enforcer.transport.lean import LeanTransport, _proxies
from enforcer.transport.wire import HttpWire, Unauthorized, _read_response


class _OneShotServer:
    """Answers each connection's first request with `answer`, then closes it as an idle timeout would."""

    def __init__(self, answer: bytes) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.answer, self.connections, self.requests = answer, 0, []
        self.closed = threading.Semaphore(0)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/wsman"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append((head, body))
                conn.sendall(self.answer)
            self.closed.release()


@pytest.mark.parametrize("has_poll", [True, False], ids=["poll", "select-as-on-windows"])
def test_a_connection_the_server_closed_while_idle_is_reopened_not_failed(monkeypatch, has_poll):
    if not has_poll:
        monkeypatch.delattr("select.poll")
    server = _OneShotServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    wire = HttpWire(server.url, "basic", "u", "p", timeout_s=5)
    assert wire.post(b"<a/>").body == b"ok"
    assert server.closed.acquire(timeout=5)
    assert wire.post(b"<b/>").body == b"ok"
    assert server.connections == 2
    assert [body for _, body in server.requests] == [b"<a/>", b"<b/>"]
    assert b"Authorization: Basic dTpw" in server.requests[0][0]


def test_basic_credentials_refused_raise_unauthorized():
    server = _OneShotServer(b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="WSMAN"\r\n'
                            b"Content-Length: 0\r\n\r\n")
    with pytest.raises(Unauthorized):
        HttpWire(server.url, "basic", "u", "p", timeout_s=5).post(b"<a/>")


def test_a_server_without_ntlm_is_an_authentication_failure_not_a_hang():
    server = _OneShotServer(b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="WSMAN"\r\n'
                            b"Content-Length: 0\r\n\r\n")
    with pytest.raises(Unauthorized, match="did not offer NTLM"):
        HttpWire(server.url, "ntlm", "u", "p", timeout_s=5).post(b"<a/>")


@pytest.mark.parametrize("raw,body,closes", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", b"abcde", False),
    (b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nfault text", b"fault text", True),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nbody", b"body", False),
])
def test_answers_are_read_by_their_framing(raw, body, closes):
    status, headers, read = _read_response(io.BytesIO(raw))
    assert read == body
    assert (headers.get("connection") == "close") is closes
    assert status in (200, 500)


def test_a_truncated_answer_is_a_connection_reset():
    with pytest.raises(ConnectionResetError):
        _read_response(io.BytesIO(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))


@pytest.mark.parametrize("env,lean", [({}, True), ({"HTTP_PROXY": "http://proxy.example:3128"}, False),
                                      ({"HTTP_PROXY": "http://proxy.example:3128", "NO_PROXY": "10.0.0.5"}, True)])
def test_a_proxy_in_the_environment_sends_requests_through_requests(monkeypatch, request, env, lean):
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _proxies.cache_clear()  # read once per process; this test changes the process's environment
    request.addfinalizer(_proxies.cache_clear)
    protocol = Protocol("http://10.0.0.5:5985/wsman", transport="ntlm", username="u", password="p")
    protocol.transport.__class__ = LeanTransport
    assert (protocol.transport._lean_wire() is not None) is lean
