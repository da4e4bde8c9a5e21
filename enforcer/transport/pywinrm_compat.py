"""Everything enforcer does to pywinrm and pyspnego beyond their public APIs, in one place.

pywinrm offers no hook to choose its XML serialiser or its Transport class,
and pyspnego no public LM/NT hash function, so enforcer reaches inside them
(figures for why: bench/PROFILE.md). Each reach is written against one
pywinrm minor version: `patched_protocol` refuses any other, so an upgrade
fails with a message naming what to check rather than with a changed
private attribute half-way through a restart. pyproject.toml pins pywinrm
below its next minor version for the same reason.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

from ..errors import EnforcerError

WRITTEN_FOR = "0.5"  # pywinrm's minor version whose internals this module patches


class UnsupportedLibrary(EnforcerError):
    """The installed pywinrm is not the version enforcer's patches were written for."""


@functools.lru_cache(maxsize=1)
def check_pywinrm() -> None:
    version = metadata.version("pywinrm")
    if version.split(".")[:2] != WRITTEN_FOR.split("."):
        raise UnsupportedLibrary(f"enforcer's WinRM transport patches pywinrm {WRITTEN_FOR}.x and found pywinrm "
                                 f"{version}: install 'pywinrm>={WRITTEN_FOR},<0.{int(WRITTEN_FOR[2:]) + 1}'")


def patched_protocol(**protocol_args: Any) -> Any:
    """pywinrm's Protocol, serialising with enforcer's envelope writer and sending through LeanTransport."""
    check_pywinrm()
    import winrm.protocol

    from . import envelope
    from .lean import LeanTransport

    if not isinstance(winrm.protocol.xmltodict, envelope.XmlToDict):
        winrm.protocol.xmltodict = envelope.XmlToDict()  # the module pywinrm's Protocol serialises with
    protocol = winrm.protocol.Protocol(**protocol_args)
    protocol.transport.__class__ = LeanTransport  # the same Transport, minus requests where it is not needed
    return protocol


def library_missing(transport: str, scheme: str) -> str | None:
    """What to install for an auth transport over `scheme`, or None when everything it needs is there.

    Kerberos over HTTP is enforcer's own (pyspnego with python-gssapi); over HTTPS it is pywinrm's (pykerberos).
    """
    import winrm.transport as available

    from .kerberos import missing_library

    if transport == "kerberos" and scheme == "http":
        return missing_library()
    lacking = {"kerberos": not available.HAVE_KERBEROS, "credssp": not available.HAVE_CREDSSP,
               "ntlm": not available.HAVE_NTLM}.get(transport, False)
    return f"pywinrm needs its optional library for it: pip install 'enforcer[{transport}]'" if lacking else None


@functools.lru_cache(maxsize=16)
def ntlm_hashes(password: str) -> tuple[str, str] | None:
    """The LM and NT one-way functions of a password (hex), or None where pyspnego moved them.

    Computed once per run, not once per node (~1 ms each); pyspnego only has them privately.
    """
    try:
        from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
    except ImportError:
        return None
    return lmowfv1(password).hex(), ntowfv1(password).hex()


def fix_credssp_trailer(encryption: Any) -> None:
    """pywinrm 0.5's CredSSP Length field knows TLS 1.2's cipher names only: under TLS 1.3 (suites named TLS_...)
    it writes 48 for TLS_AES_256_GCM_SHA384, where the trailer is 17 bytes (the AEAD tag, 16, and the record's
    inner content type, 1), and a listener refuses the message (MS-WSMV 2.2.9.1.3; windows-facts §6.4). Fixed on
    this one Encryption object, so pywinrm stays as it is for anyone else in the process."""
    original = encryption._get_credssp_trailer_length

    def trailer_length(message_length: int, cipher_suite: str) -> int:
        return 17 if cipher_suite.upper().startswith("TLS_") else original(message_length, cipher_suite)

    encryption._get_credssp_trailer_length = trailer_length


SEC_E_LOGON_DENIED = 0x8009030C


def auth_plugin_rejected(exc: BaseException) -> bool:
    """Whether an auth plugin's exception (requests_credssp raises its own) means the credentials were refused."""
    return type(exc).__name__ == "NTStatusException" and getattr(exc, "status", None) == SEC_E_LOGON_DENIED
