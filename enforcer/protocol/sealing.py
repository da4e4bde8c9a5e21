"""WinRM message encryption over HTTP (MS-WSMV 2.2.9.1.1): a SPNEGO-sealed SOAP body in a MIME frame.

Both ends of the wire use it: enforcer's HTTP client and the simulator's listener. The frame is the
same for NTLM and Kerberos: the length of the security header, the header (NTLM's 16-byte signature;
Kerberos' RFC 4121 wrap token header, longer and sized by the cipher), then the sealed message; the
context's wrap_winrm/unwrap_winrm split them. It only calls the context it is given (spnego is named
for type checkers alone), so the protocol package stays a leaf the simulator, which never imports the
engine, can share.
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


def seal(ctx: spnego.ContextProxy, message: bytes) -> bytes:
    wrapped = ctx.wrap_winrm(message)
    signature, sealed = wrapped.header, wrapped.data
    return b"".join((_BOUNDARY, b"\r\n\tContent-Type: ", PROTOCOL.encode(), b"\r\n"
                     b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=", str(len(message)).encode(),
                     b"\r\n", _BOUNDARY, b"\r\n", _OCTETS, struct.pack("<i", len(signature)), signature, sealed,
                     _BOUNDARY, b"--\r\n"))


def unseal(ctx: spnego.ContextProxy, body: bytes) -> bytes:
    """The SOAP inside a multipart/encrypted body; ValueError if a part's length is not the one announced."""
    parts = [p for p in body.split(_BOUNDARY + b"\r\n") if p]
    message = b""
    for header, payload in zip(parts[::2], parts[1::2], strict=False):  # a header without its payload adds nothing
        try:
            expected = int(header.split(b"Length=")[1].strip())
            data = payload.removesuffix(_BOUNDARY + b"--\r\n").replace(_OCTETS, b"", 1)
            sig_len = struct.unpack("<i", data[:4])[0]
        except (IndexError, struct.error) as exc:
            raise ValueError("not a multipart/encrypted WinRM body") from exc
        plain = ctx.unwrap_winrm(data[4:4 + sig_len], data[4 + sig_len:])
        if len(plain) != expected:
            raise ValueError("encrypted length mismatch: the message was altered")
        message += plain
    return message
