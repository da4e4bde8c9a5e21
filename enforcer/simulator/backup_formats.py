"""The artifacts backups leave on a node: `.reg` files and zip archives.

They are the real formats (`reg export` writes UTF-16LE with a BOM, Compress-Archive a
zip holding the folder itself), so a backup taken in the simulator reads as
one taken on Windows.
"""

from __future__ import annotations

import io
import zipfile

from .stores import FileSystem, Registry, RegKey

_HEADER = "Windows Registry Editor Version 5.00"
_LONG_HIVES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER"}


def _long_path(path: str) -> str:
    hive, _, rest = path.partition("\\")
    return _LONG_HIVES.get(hive, hive) + ("\\" + rest if rest else "")


_HEX_TYPES = {"REG_EXPAND_SZ": "2", "REG_MULTI_SZ": "7", "REG_QWORD": "b"}  # reg.exe's hex(N): prefixes


def _reg_value(value: dict) -> str:
    """A value as `reg export` writes it: strings quoted, DWORDs as dword:, the rest as hex(N): bytes."""
    kind, data = value["type"], value["data"]
    if kind == "REG_DWORD":
        return f"dword:{int(data):08x}"
    if kind in _HEX_TYPES:
        if kind == "REG_QWORD":
            raw = int(data).to_bytes(8, "little")
        elif kind == "REG_MULTI_SZ":
            raw = "".join(f"{item}\0" for item in data).encode("utf-16-le") + b"\0\0"
        else:
            raw = (str(data) + "\0").encode("utf-16-le")
        return f"hex({_HEX_TYPES[kind]}):" + ",".join(f"{b:02x}" for b in raw)
    text = str(data).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def export_reg(keys: list[RegKey]) -> bytes:
    lines = [_HEADER, ""]
    for key in keys:
        lines.append(f"[{_long_path(key.path)}]")
        lines += [f'"{name}"={_reg_value(value)}' for name, value in key.values.items()]
        lines.append("")
    return "\ufeff".encode("utf-16-le") + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


def import_reg(data: bytes, registry: Registry) -> list[str]:
    """Apply a .reg file; returns the keys it wrote. Raises ValueError on a malformed file."""
    text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8")
    lines = [ln.strip() for ln in text.splitlines()]
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
            elif raw.startswith("hex("):
                registry.set_value(current, name, *_hex_value(raw))
            else:
                registry.set_value(current, name, raw[1:-1].replace('\\"', '"').replace("\\\\", "\\"))
    return written


def _hex_value(raw: str) -> tuple[object, str]:
    code, _, digits = raw[4:].partition("):")
    kind = {v: k for k, v in _HEX_TYPES.items()}.get(code)
    if kind is None:
        raise ValueError(f"unsupported value type hex({code})")
    data = bytes(int(b, 16) for b in digits.split(",") if b)
    if kind == "REG_QWORD":
        return int.from_bytes(data, "little"), kind
    text = data.decode("utf-16-le")
    return (text.rstrip("\0").split("\0") if kind == "REG_MULTI_SZ" else text.rstrip("\0")), kind


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
