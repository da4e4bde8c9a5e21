"""What makes a run auditable: who ran it, from where, with which enforcer, playbook and options.

Recorded in the history when the run starts and carried by its reports, so a
change ticket can be matched to exactly what ran.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from . import __version__
from .planner import Selection


def audit_of(playbook: str, selection: Selection) -> dict[str, Any]:
    """The run's audit fields (-e values pass through the history's redactor like every value stored)."""
    return {"operator": getpass.getuser(), "control_host": socket.gethostname(), "pid": os.getpid(),
            "enforcer_version": __version__, "playbook_sha256": _sha256(playbook), "git_commit": git_commit(playbook),
            "extra_vars": selection.extra_vars or None, "host_limit": selection.limit,
            "tags": sorted(selection.tags) or None}


def _sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def git_commit(path: str) -> str | None:
    """The commit of the repository the playbook is in (with `+dirty` when it has changes), or None."""
    folder = str(Path(path).resolve().parent)
    try:
        head = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--", Path(path).name],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def process_alive(pid: int) -> bool:
    """Whether a process of this host still runs (a pid reused since is taken for alive: the cautious side)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
