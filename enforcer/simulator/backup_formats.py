"""The artifacts backups leave on a node: `.reg` files and zip archives.

They are the real formats (`reg export` writes UTF-16LE with a BOM, Compress-Archive a
zip holding the folder itself), so a backup taken in the simulator reads as
one taken on Windows.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from .stores import FileSystem, Registry, RegKey

_HEADER = "Windows Registry Editor Version 5.00"
_LONG_HIVES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER"}


def _long_path(path: str) -> str:
    hive, _, rest = path.partition("\\")
    return _LONG_HIVES.get(hive, hive) + ("\\" + rest if rest else "")


# reg.exe's hex(N): prefixes; REG_BINARY is plain `hex:`. Binary data is a hex string, as the agent reads it.
_HEX_TYPES = {"REG_NONE": "hex(0):", "REG_BINARY": "hex:", "REG_EXPAND_SZ": "hex(2):", "REG_MULTI_SZ": "hex(7):",
              "REG_QWORD": "hex(b):"}
_WRAP = 80  # reg.exe ends a long hex line with a backslash and goes on, indented, on the next


def _hex_bytes(kind: str, data: Any) -> bytes:
    if kind == "REG_QWORD":
        return int(str(data)).to_bytes(8, "little")
    if kind == "REG_MULTI_SZ":
        return "".join(f"{item}\0" for item in data).encode("utf-16-le") + "\0".encode("utf-16-le")
    if kind == "REG_EXPAND_SZ":
        return (str(data) + "\0").encode("utf-16-le")
    return bytes.fromhex(str(data or ""))


def _wrapped(head: str, raw: bytes) -> str:
    """`head` and the bytes as reg.exe writes them: comma-separated hex, cut with a backslash before 80 columns."""
    text, line = [], head
    for i, b in enumerate(raw):
        piece = f"{b:02x}" + ("," if i < len(raw) - 1 else "")
        if len(line) + len(piece) > _WRAP - 1:
            text.append(line + "\\")
            line = "  "
        line += piece
    return "\r\n".join(text + [line])


def _reg_line(name: str, value: dict) -> str:
    """A value as `reg export` writes it: strings quoted, DWORDs as dword:, the rest as hex bytes."""
    kind, data = value["type"], value["data"]
    head = f'"{name}"='
    if kind == "REG_DWORD":
        return head + f"dword:{int(data):08x}"
    if kind in _HEX_TYPES:
        return _wrapped(head + _HEX_TYPES[kind], _hex_bytes(kind, data))
    text = str(data).replace("\\", "\\\\").replace('"', '\\"')
    return head + f'"{text}"'


def export_reg(keys: list[RegKey]) -> bytes:
    lines = [_HEADER, ""]
    for key in keys:
        lines.append(f"[{_long_path(key.path)}]")
        lines += [_reg_line(name, value) for name, value in key.values.items()]
        lines.append("")
    return "\ufeff".encode("utf-16-le") + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


def _joined(lines: list[str]) -> list[str]:
    """Lines with reg.exe's backslash continuations put back together."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def import_reg(data: bytes, registry: Registry) -> list[str]:
    """Apply a .reg file; returns the keys it wrote. Raises ValueError on a malformed file."""
    text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8")
    lines = _joined([ln.strip() for ln in text.splitlines()])
    if not lines or lines[0].lstrip("\ufeff") != _HEADER:
        raise ValueError("not a registry file")
    written: list[str] = []
    current: str | None = None
    for line in lines[1:]:
        if line.startswith("[") and line.endswith("]"):
            current = registry.create(line[1:-1]).path
            written.append(current)
        elif line and current is not None:
            name, _, raw = line.partition("=")
            name = name.strip('"')
            if raw.startswith("dword:"):
                registry.set_value(current, name, int(raw[6:], 16), "REG_DWORD")
            elif raw.startswith("hex"):
                registry.set_value(current, name, *_hex_value(raw))
            else:
                registry.set_value(current, name, raw[1:-1].replace('\\"', '"').replace("\\\\", "\\"))
    return written


def _hex_value(raw: str) -> tuple[object, str]:
    kind = next((k for k, prefix in _HEX_TYPES.items() if raw.startswith(prefix)), None)
    if kind is None:
        raise ValueError(f"unsupported value type {raw.partition(':')[0]}")
    data = bytes(int(b, 16) for b in raw[len(_HEX_TYPES[kind]):].split(",") if b.strip())
    if kind == "REG_QWORD":
        return int.from_bytes(data, "little"), kind
    if kind in ("REG_BINARY", "REG_NONE"):
        return data.hex(), kind
    text = data.decode("utf-16-le").rstrip("\0")
    return (text.split("\0") if text else []) if kind == "REG_MULTI_SZ" else text, kind


def archive(fs: FileSystem, path: str) -> bytes:
    entries = fs.subtree(path)
    base = entries[0].path.rstrip("\\").rpartition("\\")[0]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in entries:
            name = entry.path[len(base):].lstrip("\\").replace("\\", "/")
            if entry.is_dir:
                zf.writestr(name + "/", b"")
            else:
                zf.writestr(name, entry.data)
    return buf.getvalue()


def restore(fs: FileSystem, data: bytes, dest: str) -> list[str]:
    """Expand an archive into `dest`; returns the top-level paths restored."""
    tops: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            target = dest.rstrip("\\") + "\\" + info.filename.rstrip("/").replace("/", "\\")
            if info.is_dir():
                fs.mkdir(target)
            else:
                fs.write(target, zf.read(info))
            top = dest.rstrip("\\") + "\\" + info.filename.split("/")[0]
            if top not in tops:
                tops.append(top)
    return tops
