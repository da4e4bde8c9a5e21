"""One run per cluster at a time: a lease in STATE_DIR/locks/CLUSTER.lock.

The lease is an flock the kernel drops when its holder dies, plus a JSON
record of who holds it and which step is in flight. A second run reads the
record to say who is in its way (exit 5); a run that finds the record of a
holder that died mid-step (kill -9) says which step was in flight before it
re-reads the cluster and goes on.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

from .errors import EnforcerError


class ClusterLocked(EnforcerError):
    def __init__(self, cluster: str, holder: dict[str, Any]) -> None:
        super().__init__(f"cluster {cluster} is locked by another run: pid {holder.get('pid')} on "
                         f"{holder.get('host')}, started {holder.get('started')} (run {holder.get('run_id')})")
        self.cluster = cluster
        self.holder = holder


class ClusterLock:
    def __init__(self, folder: Path, cluster: str, run_id: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{cluster}.lock"
        self.cluster = cluster
        self.run_id = run_id
        self._fd: int | None = None
        self.previous: dict[str, Any] | None = None  # a dead holder's record, if it left a step in flight

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise ClusterLocked(self.cluster, holder) from None
        record = _read(fd)
        if record.get("step"):
            self.previous = record
        self._fd = fd
        _write(fd, {"pid": os.getpid(), "host": socket.gethostname(), "run_id": self.run_id,
                    "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "step": None})

    def note_step(self, step: str | None) -> None:
        """Record the step in flight, so a run that follows a crash can say where this one stopped."""
        if self._fd is not None:
            record = _read(self._fd)
            record["step"] = step
            _write(self._fd, record)

    def release(self) -> None:
        if self._fd is None:
            return
        _write(self._fd, {})
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _write(fd: int, record: dict[str, Any]) -> None:
    data = json.dumps(record).encode()
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, data)
    os.fsync(fd)


def _read(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 65536)
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}


class ClusterLocks:
    """The locks of every cluster a run touches, taken together or not at all."""

    def __init__(self, folder: Path, clusters: list[str], run_id: str) -> None:
        self.locks = {c: ClusterLock(folder, c, run_id) for c in clusters}

    def __enter__(self) -> ClusterLocks:
        taken = []
        try:
            for lock in self.locks.values():
                lock.acquire()
                taken.append(lock)
        except ClusterLocked:
            for lock in taken:
                lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for lock in self.locks.values():
            lock.release()

    def interrupted_runs(self) -> list[tuple[str, dict[str, Any]]]:
        return [(c, lock.previous) for c, lock in self.locks.items() if lock.previous]
