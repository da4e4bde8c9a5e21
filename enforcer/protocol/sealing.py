"""WinRM message encryption over HTTP (MS-WSMV 2.2.9.1): a sealed SOAP body in a MIME frame.

Both ends of the wire use it: enforcer's HTTP client and the simulator's listener. For NTLM and
Kerberos (2.2.9.1.1) the frame holds the length of the security header, the header (NTLM's 16-byte
signature; Kerberos' RFC 4121 wrap token header, longer and sized by the cipher), then the sealed
message; the context's wrap_winrm/unwrap_winrm split them. For CredSSP (2.2.9.1.3) it holds the
length of the TLS trailer, then the TLS record. It only calls the context it is given (spnego is
named for type checkers alone), so the protocol package stays a leaf the simulator, which never
imports the engine, can share.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import spnego

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary"
_OCTETS = b"\tContent-Type: application/octet-stream\r\n"


CREDSSP_PROTOCOL = "application/HTTP-CredSSP-session-encrypted"
CREDSSP_CONTENT_TYPE = f'multipart/encrypted;protocol="{CREDSSP_PROTOCOL}";boundary="Encrypted Boundary"'


def credssp_trailer(ctx: spnego.ContextProxy) -> int:
    """CredSSP's Length field (MS-WSMV 2.2.9.1.3): the TLS trailer after the data, by the session's TLS version: an
    AEAD tag of 16 bytes under TLS 1.2 (GCM), and one byte more, the inner content type, under TLS 1.3."""
    tls = ctx.get_extra_info("ssl_object")
    return 17 if tls is not None and tls.version() == "TLSv1.3" else 16


def seal(ctx: spnego.ContextProxy, message: bytes, credssp: bool = False) -> bytes:
    if credssp:  # the TLS record holds header, data and trailer: the Length field names the trailer's size
        protocol, security, sealed = CREDSSP_PROTOCOL, b"", ctx.wrap(message).data
        length = credssp_trailer(ctx)
    else:
        wrapped = ctx.wrap_winrm(message)
        protocol, security, sealed = PROTOCOL, wrapped.header, wrapped.data
        length = len(security)
    return b"".join((_BOUNDARY, b"\r\n\tContent-Type: ", protocol.encode(), b"\r\n"
                     b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=", str(len(message)).encode(),
                     b"\r\n", _BOUNDARY, b"\r\n", _OCTETS, struct.pack("<i", length), security, sealed,
                     _BOUNDARY, b"--\r\n"))


def unseal(ctx: spnego.ContextProxy, body: bytes, credssp: bool = False) -> bytes:
    """The SOAP inside a multipart/encrypted (or x-multi-encrypted) body; ValueError if a part's length is not the
    one announced, or, with CredSSP, its Length field is not the session's TLS trailer."""
    parts = [p for p in body.split(_BOUNDARY + b"\r\n") if p]
    message = b""
    for header, payload in zip(parts[::2], parts[1::2], strict=False):  # a header without its payload adds nothing
        try:
            expected = int(header.split(b"Length=")[1].strip())
            data = payload.removesuffix(_BOUNDARY + b"--\r\n").replace(_OCTETS, b"", 1)
            length = struct.unpack("<i", data[:4])[0]
        except (IndexError, struct.error) as exc:
            raise ValueError("not a multipart/encrypted WinRM body") from exc
        if credssp:
            if length != credssp_trailer(ctx):
                raise ValueError(f"the CredSSP Length field says {length}, the TLS trailer is "
                                 f"{credssp_trailer(ctx)} bytes")
            plain = ctx.unwrap(data[4:]).data
        else:
            plain = ctx.unwrap_winrm(data[4:4 + length], data[4 + length:])
        if len(plain) != expected:
            raise ValueError("encrypted length mismatch: the message was altered")
        message += plain
    return message
