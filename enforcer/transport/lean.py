"""pywinrm's Transport, the same on the wire, minus requests and CPU a run does not need.

The WinRM transport swaps it in for the Transport pywinrm's Protocol builds
(`protocol.transport.__class__ = LeanTransport`): pywinrm offers no hook to
choose its class, and everything above the HTTP exchange (envelopes, answers,
faults) stays pywinrm's own. Figures: bench/PROFILE.md.
"""

from __future__ import annotations

import functools
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import requests
import winrm.transport
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError

from .pywinrm_compat import fix_credssp_trailer
from .wire import Exchange, HttpWire, Unauthorized


class LeanTransport(winrm.transport.Transport):
    """pywinrm's Transport; over plain HTTP (NTLM, Kerberos or Basic) its requests go through `HttpWire`.

    - NTLM over HTTP, the default of a Windows WinRM listener, and Basic: one
      keep-alive connection per node, written and read directly (wire.py).
      The Negotiate token goes with the first request, as Windows' own WinRM
      client does: one round trip less per node and run than requests_ntlm.
    - Kerberos over HTTP likewise, with a ticket enforcer gets itself (kerberos.py).
    - HTTPS, CredSSP and certificates: pywinrm's requests session,
      which with no proxy configured stops asking for one on every request
      (about a fifth of requests' CPU per request).
    """

    _wire: HttpWire | None = None

    def send_message(self, message: str | bytes) -> bytes:
        wire = self._lean_wire()
        if wire is None:
            return super().send_message(message)
        try:
            answer = wire.post(message.encode("utf-8") if isinstance(message, str) else message)
        except Unauthorized as exc:
            raise InvalidCredentialsError(str(exc)) from None
        if answer.status != 200:
            raise WinRMTransportError("http", answer.status, answer.body.decode("utf-8", "replace"))
        return answer.body

    def observe(self, on_exchange: Exchange) -> None:
        """Call `on_exchange(status, body bytes, ms)` after every HTTP exchange (for -vvv)."""
        wire = self._lean_wire()
        if wire is not None:
            wire.on_exchange = on_exchange
            return

        def hook(response: requests.Response, **_: Any) -> None:
            on_exchange(response.status_code, len(response.content), response.elapsed.total_seconds() * 1000)
        self.build_session().hooks["response"].append(hook)

    def close_session(self) -> None:
        if self._wire is not None:
            self._wire.close()
        super().close_session()

    def _lean_wire(self) -> HttpWire | None:
        """The wire for plain HTTP with NTLM or Kerberos (sealed) or Basic, unless a proxy applies; None: requests'
        path."""
        if self._wire is None and self.endpoint.lower().startswith("http:") \
                and self.auth_method in ("ntlm", "basic", "kerberos") \
                and (self.auth_method == "basic" or self.message_encryption != "never") \
                and not _proxied(self.endpoint):
            # read_timeout_sec None means no timeout, to HttpWire's socket as to requests
            self._wire = HttpWire(self.endpoint, self.auth_method, self.username or "", self.password or "",
                                  self.read_timeout_sec, service_host=self.kerberos_hostname_override,
                                  delegate=bool(self.kerberos_delegation))
        return self._wire

    def build_session(self) -> requests.Session:
        if self.session is not None:
            return self.session
        session = super().build_session()
        _settle_environment(session)
        return session

    def setup_encryption(self, session: requests.Session) -> None:
        _settle_environment(session)
        super().setup_encryption(session)
        if self.auth_method == "credssp" and self.encryption is not None:
            fix_credssp_trailer(self.encryption)


def _proxied(endpoint: str) -> bool:
    """True when the environment names an HTTP proxy for the endpoint (pywinrm's requests would use it)."""
    proxies = _proxies()
    return bool(proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(
        urlsplit(endpoint).hostname or "")


@functools.lru_cache(maxsize=1)
def _proxies() -> dict[str, str]:
    """The system's proxies, read once per process: urllib walks the whole environment (~0.1 ms) per call."""
    return urllib.request.getproxies()


def _settle_environment(session: requests.Session) -> None:
    """Stop requests from looking up proxies (and netrc) again for every request when there are none.

    pywinrm sends prepared requests with Session.send, where trust_env means only
    two things: the system's proxies, resolved per request (the environment,
    or the OS settings where urllib reads them), and netrc, read only for a
    session without auth. With no proxy configured and auth set, neither can
    change a request, so the session stops asking.
    """
    if session.trust_env and session.auth is not None and not _proxies():
        session.trust_env = False
