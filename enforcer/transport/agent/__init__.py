"""The PowerShell agent shipped to nodes, and the bootstrap that loads it from stdin.

The agent never goes on the command line (cmd.exe stops at 8,191
characters): the command line carries only the short bootstrap, and the
agent and the request follow on stdin as two base64 lines, which keeps stdin
ASCII whatever the shell's codepage. The agent is gzipped first (44 KB of
PowerShell become 15 KB on the line): every node receives it on every call,
and each byte is base64-encoded again by WinRS, sealed, and parsed as XML at
both ends (bench/PROFILE.md).
"""

from __future__ import annotations

import base64
import gzip
import json
from functools import lru_cache
from importlib import resources
from typing import Any

POWERSHELL = "powershell.exe"


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def catalogue() -> dict[str, Any]:
    return json.loads(_text("catalogue.json"))


@lru_cache(maxsize=None)
def read_only_ops() -> frozenset[str]:
    """Ops that change nothing: safe to send again when an answer was lost."""
    return frozenset(name for name, op in catalogue()["ops"].items() if op["read_only"])


@lru_cache(maxsize=None)
def command_arguments() -> tuple[str, ...]:
    """powershell.exe's arguments: the bootstrap, UTF-16LE base64 as -EncodedCommand wants."""
    encoded = base64.b64encode(_text("bootstrap.ps1").encode("utf-16-le")).decode("ascii")
    return ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded)


@lru_cache(maxsize=None)
def _agent_line() -> bytes:
    return base64.b64encode(gzip.compress(_text("agent.ps1").encode("utf-8"), compresslevel=9, mtime=0))


def stdin_payload(request: dict[str, Any]) -> bytes:
    """The two stdin lines: the agent (gzipped), then the JSON request."""
    body = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _agent_line() + b"\n" + base64.b64encode(body) + b"\n"
