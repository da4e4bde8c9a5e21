"""pywinrm's Transport, the same on the wire, minus requests and CPU a run does not need.

The WinRM transport swaps it in for the Transport pywinrm's Protocol builds
(`protocol.transport.__class__ = LeanTransport`): pywinrm offers no hook to
choose its class, and everything else about it stays pywinrm's own.
Figures: bench/PROFILE.md.
"""

from __future__ import annotations

import base64
import functools
import urllib.request
from typing import Any
from urllib.parse import urlparse

import requests
import spnego
import winrm.transport
from requests_ntlm import HttpNtlmAuth
from requests_ntlm.requests_ntlm import ShimSessionSecurity


class LeanTransport(winrm.transport.Transport):
    """pywinrm's Transport with the same requests on the wire, minus two costs.

    - NTLM over plain HTTP (message encryption): the Negotiate token goes with
      the first request instead of after an anonymous 401, as Windows' own
      WinRM client does. One round trip less per node and run.
    - With no proxy configured, the session stops asking for one on every
      request (requests' trust_env). About a fifth of the client's CPU per
      request went there (bench/PROFILE.md).
    """

    def build_session(self) -> requests.Session:
        if self.session is not None:
            return self.session
        session = super().build_session()
        _settle_environment(session)
        return session

    def setup_encryption(self, session: requests.Session) -> None:
        _settle_environment(session)
        auth = session.auth
        if (self.auth_method == "ntlm" and type(auth) is HttpNtlmAuth and self.endpoint.lower().startswith("http:")
                and self.username and self.password):
            session.auth = _PreemptiveNtlmAuth(self.username, self.password, send_cbt=self.send_cbt)
        super().setup_encryption(session)


def _settle_environment(session: requests.Session) -> None:
    """Stop requests from looking up proxies (and netrc) again for every request when there are none.

    pywinrm sends prepared requests with Session.send, where trust_env means only
    two things: the system's proxies, resolved per request (the environment,
    or the OS settings where urllib reads them), and netrc, read only for a
    session without auth. With no proxy configured and auth set, neither can
    change a request, so the session stops asking.
    """
    if session.trust_env and session.auth is not None and not urllib.request.getproxies():
        session.trust_env = False


class _PreemptiveNtlmAuth(HttpNtlmAuth):
    """requests_ntlm's NTLM, starting with the Negotiate token instead of an anonymous request.

    Used only over plain HTTP, where there are no channel bindings to learn
    from the server's certificate first. A server that does not answer with a
    Negotiate challenge gets requests_ntlm's own handshake from the start.
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r = super().__call__(r)
        if self.session_security is None and "Authorization" not in r.headers:
            client = spnego.client(_ntlm_credential(self.username or "", self.password or ""), protocol="ntlm",
                                   hostname=urlparse(r.url).hostname, service="http",
                                   options=spnego.NegotiateOptions.use_ntlm)
            r.headers["Authorization"] = "Negotiate " + base64.b64encode(client.step() or b"").decode()
            r.register_hook("response", functools.partial(self._authenticate, client))
        return r

    def _authenticate(self, client: spnego.ContextProxy, response: requests.Response,
                      **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or self.session_security is not None:
            return response
        challenge = next((part.strip()[len("negotiate "):].strip() for part in
                          response.headers.get("www-authenticate", "").split(",")
                          if part.strip().lower().startswith("negotiate ")), None)
        if not challenge:
            response.request.headers.pop("Authorization", None)
            return self.response_hook(response, **kwargs)
        response.content  # read the 401 through, so the next request reuses the connection NTLM authenticates
        response.raw.release_conn()
        request = response.request.copy()
        if response.headers.get("set-cookie"):
            request.headers["Cookie"] = response.headers["set-cookie"]
        token = client.step(base64.b64decode(challenge))
        request.headers["Authorization"] = "Negotiate " + base64.b64encode(token or b"").decode()
        final = response.connection.send(request, **kwargs)  # type: ignore[attr-defined]
        final.history.append(response)
        self.session_security = ShimSessionSecurity(client)
        return final


@functools.lru_cache(maxsize=16)
def _ntlm_hashes(password: str) -> tuple[str, str] | None:
    """The LM and NT one-way functions of a password, computed once per run, not once per node (~1 ms each)."""
    try:
        from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
    except ImportError:
        return None
    return lmowfv1(password).hex(), ntowfv1(password).hex()


def _ntlm_credential(username: str, password: str) -> Any:
    hashes = _ntlm_hashes(password)
    if hashes is None:
        return spnego.Password(username, password)
    return spnego.NTLMHash(username, lm_hash=hashes[0], nt_hash=hashes[1])
