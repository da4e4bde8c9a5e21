"""The Kerberos client context enforcer authenticates with, as a Windows client gets one.

With a password (`ansible_user` / `ansible_password`) the ticket is asked of the KDC directly, in memory:
no kinit, no ticket cache left behind, no pykerberos. Without one, the ticket cache (KRB5CCNAME) or a client
keytab (KRB5_CLIENT_KTNAME) is used. The realm's KDC comes from krb5.conf (KRB5_CONFIG).

What goes wrong is said in words an operator can act on: a rejected password, an unknown user, a clock
too far from the KDC's, a node without a service principal, a KDC nobody can reach.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import spnego
import spnego.exceptions

# (what the library says, a regular expression; is it the credentials' fault; what to tell the operator)
_CAUSES = (
    ("Decrypt integrity check failed", True, "the KDC rejected the password of {user}"),
    ("Preauthentication failed", True, "the KDC rejected the password of {user}"),
    ("Client not found in Kerberos database", True, "the KDC does not know the user {user}"),
    ("Client's credentials have been revoked", True, "the account {user} is disabled or locked out"),
    ("Clock skew too great", False, "this machine's clock and the KDC's differ by more than 5 minutes: sync them "
                                    "(w32time on Windows, chrony or ntpd here)"),
    ("Server .*not found in Kerberos database", False, "the realm has no service principal HTTP/{host}: register it "
                                                     "(setspn -S HTTP/{host} <computer>) or set "
                                                     "ansible_winrm_kerberos_hostname_override to the node's name"),
    ("Cannot contact any KDC", False, "no KDC of the realm answers: check krb5.conf (KRB5_CONFIG) and the network"),
    ("Cannot find KDC", False, "krb5.conf names no KDC for the realm: set KRB5_CONFIG to one that does"),
    ("No Kerberos credentials available", True, "no password and no ticket for {user}: set ansible_password, or "
                                                "get a ticket first (kinit) into KRB5CCNAME"),
)


class KerberosError(Exception):
    """Kerberos failed; `credentials` tells a rejected account (tried on one node only) from the rest."""

    def __init__(self, message: str, credentials: bool) -> None:
        super().__init__(message)
        self.credentials = credentials


def missing_library() -> str | None:
    """What to install for Kerberos, or None when pyspnego can speak it (python-gssapi and krb5)."""
    if importlib.util.find_spec("gssapi") and importlib.util.find_spec("krb5"):
        return None
    return ("Kerberos needs python-gssapi and krb5 (pip install 'enforcer[kerberos]'; they build against MIT "
            "Kerberos: Debian's libkrb5-dev)")


def client_context(user: str, password: str, host: str, delegate: bool) -> tuple[Any, bytes]:
    """A context for HTTP/`host` and its first token (the AP-REQ): asking for it is what reaches the KDC."""
    flags = spnego.ContextReq.default | (spnego.ContextReq.delegate if delegate else 0)
    try:
        ctx = spnego.client(user or None, password or None, hostname=host, service="HTTP", protocol="kerberos",
                            context_req=flags)
        token = ctx.step() or b""
    except Exception as exc:  # krb5, gssapi and pyspnego each raise their own; all are told apart by message
        raise classify(exc, user, host) from None
    return ctx, token


def classify(exc: BaseException, user: str, host: str) -> KerberosError:
    text = str(exc)
    for pattern, credentials, message in _CAUSES:
        if re.search(pattern, text, re.IGNORECASE):
            return KerberosError(message.format(user=user or "the ticket's user", host=host), credentials)
    return KerberosError(f"Kerberos failed: {text.strip() or type(exc).__name__}", False)

