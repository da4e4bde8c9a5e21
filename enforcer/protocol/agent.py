"""The PowerShell agent shipped to nodes, and the bootstrap that loads it from stdin.

The agent is one text made of powershell/*.ps1: core.ps1 (the op runner and
what every op uses), then one file per op family, each registering its own
ops, so adding an op to a family touches that family's file only. SCRIPTS is
the one place that order is written.

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
from functools import cache
from importlib import resources
from typing import Any

POWERSHELL = "powershell.exe"
SCRIPTS = ("core.ps1", "registry.ps1", "path.ps1", "service.ps1", "dtc.ps1", "events.ps1", "cluster.ps1", "lease.ps1",
           "facts.ps1")
BOOTSTRAP = "bootstrap.ps1"


@cache
def _text(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def script_text(name: str) -> str:
    """One file of powershell/, by name."""
    return _text(f"powershell/{name}")


@cache
def agent_text() -> str:
    """The agent as a node runs it: the SCRIPTS, in order, as one text."""
    return "\n".join(script_text(name) for name in SCRIPTS)


@cache
def catalogue() -> dict[str, Any]:
    return json.loads(_text("catalogue.json"))


@cache
def read_only_ops() -> frozenset[str]:
    """Ops that change nothing: safe to send again when an answer was lost."""
    return frozenset(name for name, op in catalogue()["ops"].items() if op["read_only"])


@cache
def command_arguments() -> tuple[str, ...]:
    """powershell.exe's arguments: the bootstrap, UTF-16LE base64 as -EncodedCommand wants."""
    encoded = base64.b64encode(script_text(BOOTSTRAP).encode("utf-16-le")).decode("ascii")
    return ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded)


@cache
def _agent_line() -> bytes:
    return base64.b64encode(gzip.compress(agent_text().encode("utf-8"), compresslevel=9, mtime=0))


def stdin_payload(request: dict[str, Any]) -> bytes:
    """The two stdin lines: the agent (gzipped), then the JSON request."""
    body = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _agent_line() + b"\n" + base64.b64encode(body) + b"\n"
