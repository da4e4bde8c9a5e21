"""The simulated listener's acceptors of authentication: NTLM against the simulator's account, Kerberos against
the keys a private KDC gave the nodes' HTTP service principals (kdc.py), CredSSP (TLS, then NTLM inside it,
then the delegated credentials).

Both step pyspnego server contexts; what they need from the environment (NTLM's credential file, Kerberos'
krb5.conf and keytab) GSS-API and pyspnego read process-wide, so each is set only while a token is stepped,
under a lock: simulators side by side in one process keep their own.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
import threading

import spnego
import spnego.tls

from .kdc import Kdc


class Acceptor:
    def step(self, ctx: spnego.ContextProxy | None, scheme: str, token: bytes
             ) -> tuple[spnego.ContextProxy, bytes | None]:
        """Step `ctx` with the token, or a new context when there is none or it is complete."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the acceptor holds."""


class NtlmAcceptor(Acceptor):
    """pyspnego's NTLM acceptor reads credentials from the file named by $NTLM_USER_FILE.

    Each server writes its own file, and the variable is pointed at it only
    while that server steps a token, under one process-wide lock: simulators
    side by side in one process keep their own passwords.
    """

    _env_lock = threading.Lock()

    def __init__(self, domain: str, user: str, password: str) -> None:
        fd, self.path = tempfile.mkstemp(prefix="enforcer-sim-ntlm-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_credential_lines(domain, user, password))

    def step(self, ctx: spnego.ContextProxy | None, scheme: str, token: bytes
             ) -> tuple[spnego.ContextProxy, bytes | None]:
        with self._env_lock:
            previous = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self.path  # read when a raw NTLM context is made, and when it steps
            try:
                if ctx is None or ctx.complete:
                    ctx = self._new_context(token)
                return ctx, ctx.step(token)
            finally:
                if previous is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = previous

    def _new_context(self, token: bytes) -> spnego.ContextProxy:
        """Raw NTLM skips pyspnego's SPNEGO layer."""
        return spnego.server(protocol="ntlm" if token.startswith(b"NTLMSSP\0") else "negotiate")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _credential_lines(domain: str, user: str, password: str) -> str:
    """The account, with and without its domain, as the acceptor's credential file holds it.

    In smbpasswd form (the LM and NT hashes) when pyspnego's hash functions are
    at hand: the acceptor then reads the hashes instead of deriving them from
    the password on every handshake (pure-Python DES, about half the
    simulator's CPU per NTLM handshake). Otherwise in Heimdal form (the password).
    """
    try:
        from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
    except ImportError:
        return f":{user}:{password}\n{domain}:{user}:{password}\n"
    hashes = f"{lmowfv1(password).hex().upper()}:{ntowfv1(password).hex().upper()}"
    return f"{user}:0:{hashes}:[U          ]:LCT-00000000\n{domain}\\{user}:0:{hashes}:[U          ]:LCT-00000000\n"


class KerberosAcceptor(Acceptor):
    """`Kerberos <AP-REQ>` or `Negotiate <SPNEGO>`: one step, whose token (the AP-REP) the 200 carries back, so
    the client can check it is the node's service it authenticated to (mutual authentication)."""

    def __init__(self, kdc: Kdc) -> None:
        self.kdc = kdc

    def step(self, ctx: spnego.ContextProxy | None, scheme: str, token: bytes
             ) -> tuple[spnego.ContextProxy, bytes | None]:
        with self.kdc.acceptor_environment():
            if ctx is None or ctx.complete:
                ctx = spnego.server(protocol="kerberos" if scheme == "kerberos" else "negotiate")
            return ctx, ctx.step(token)


class CredSSPAcceptor(NtlmAcceptor):
    """CredSSP (MS-CSSP) over a TLS session of its own, TLS 1.3 or 1.2 as the listener allows, with NTLM inside it
    against the same account; several 401 rounds before the client delegates its credentials."""

    def __init__(self, domain: str, user: str, password: str, tls_version: str) -> None:
        super().__init__(domain, user, password)
        self._tls = spnego.tls.default_tls_context(usage="accept")
        cert_pem, key_pem, public_key = spnego.tls.generate_tls_certificate()
        cert_path = self.path + ".pem"
        with open(cert_path, "wb") as fh:
            fh.write(cert_pem + key_pem)
        self._tls.context.load_cert_chain(cert_path)
        self._tls.public_key = public_key
        os.unlink(cert_path)
        if tls_version == "1.2":
            self._tls.context.maximum_version = ssl.TLSVersion.TLSv1_2

    def _new_context(self, token: bytes) -> spnego.ContextProxy:
        return spnego.server(protocol="credssp", credssp_tls_context=self._tls)
