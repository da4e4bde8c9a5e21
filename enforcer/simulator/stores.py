"""A node's registry and file system, case-insensitive as Windows is.

Both keep the caller's spelling for display and fold case for lookup. Parents
are created implicitly, as `New-Item -Force` and `reg add` do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

_HIVES = {"HKEY_LOCAL_MACHINE": "HKLM", "HKLM:": "HKLM", "HKEY_CURRENT_USER": "HKCU", "HKCU:": "HKCU"}


def norm_key(path: str) -> str:
    """`HKEY_LOCAL_MACHINE\\X\\` and `HKLM:\\X` both become `HKLM\\X`."""
    parts = [p for p in path.replace("/", "\\").split("\\") if p]
    if parts:
        parts[0] = _HIVES.get(parts[0].upper(), parts[0].upper())
    return "\\".join(parts)


def norm_path(path: str) -> str:
    """`c:/x/` becomes `C:\\x`; a drive root keeps its backslash."""
    p = path.replace("/", "\\")
    while p.endswith("\\") and len(p) > 3:
        p = p[:-1]
    if len(p) >= 2 and p[1] == ":":
        p = p[0].upper() + p[1:]
        if len(p) == 2:
            p += "\\"
    return p


def parent_of(path: str) -> str | None:
    head, sep, _ = path.rstrip("\\").rpartition("\\")
    if not sep:
        return None
    return head + "\\" if head.endswith(":") else head


@dataclass
class RegKey:
    path: str
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


class Registry:
    def __init__(self) -> None:
        self._keys: dict[str, RegKey] = {}

    def get(self, path: str) -> RegKey | None:
        return self._keys.get(norm_key(path).lower())

    def create(self, path: str) -> RegKey:
        path = norm_key(path)
        parent = path.rpartition("\\")[0]
        if "\\" in path and parent.lower() not in self._keys:
            self.create(parent)
        return self._keys.setdefault(path.lower(), RegKey(path))

    def set_value(self, path: str, name: str, data: Any, type: str = "REG_SZ") -> None:
        self.create(path).values[name] = {"type": type, "data": data}

    def subtree(self, path: str) -> list[RegKey]:
        """The key and its descendants, parents first (the order `reg export` writes)."""
        low = norm_key(path).lower()
        return [k for p, k in sorted(self._keys.items()) if p == low or p.startswith(low + "\\")]

    def subkeys(self, path: str) -> list[str]:
        low = norm_key(path).lower()
        depth = low.count("\\") + 1
        return [k.path.rsplit("\\", 1)[1] for p, k in sorted(self._keys.items())
                if p.startswith(low + "\\") and p.count("\\") == depth]

    def remove(self, path: str) -> bool:
        doomed = self.subtree(path)
        for key in doomed:
            del self._keys[key.path.lower()]
        return bool(doomed)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {k.path: dict(k.values) for _, k in sorted(self._keys.items())}


@dataclass
class FsEntry:
    path: str
    is_dir: bool
    data: bytes = b""
    mtime: float = field(default_factory=time.time)


class FileSystem:
    def __init__(self) -> None:
        self._entries: dict[str, FsEntry] = {}

    def get(self, path: str) -> FsEntry | None:
        return self._entries.get(norm_path(path).lower())

    def mkdir(self, path: str) -> FsEntry:
        path = norm_path(path)
        parent = parent_of(path)
        if parent and parent.lower() not in self._entries:
            self.mkdir(parent)
        return self._entries.setdefault(path.lower(), FsEntry(path, True))

    def write(self, path: str, data: bytes) -> FsEntry:
        path = norm_path(path)
        parent = parent_of(path)
        if parent:
            self.mkdir(parent)
        entry = FsEntry(path, False, data)
        self._entries[path.lower()] = entry
        return entry

    def subtree(self, path: str) -> list[FsEntry]:
        """The entry and everything below it, parents first."""
        low = norm_path(path).lower().rstrip("\\")
        return [e for p, e in sorted(self._entries.items())
                if p.rstrip("\\") == low or p.startswith(low + "\\")]

    def remove(self, path: str) -> bool:
        doomed = self.subtree(path)
        for entry in doomed:
            del self._entries[entry.path.lower()]
        return bool(doomed)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {e.path: ({"type": "directory"} if e.is_dir else {"type": "file", "size": len(e.data)})
                for _, e in sorted(self._entries.items())}
