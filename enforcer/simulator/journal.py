"""The simulator's journal: what happened, in order, as JSON lines.

Tests assert on it (e.g. the order of cluster-service stops and starts), so it
records the model's own view of events, not what a client believes it did.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, TextIO


class Journal:
    """Thread-safe, append-only record of ops and state changes.

    Kept in memory for in-process tests and, when a path is given, written
    through to a file line by line so a crashed run still leaves a trail.
    """

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._records: list[dict[str, Any]] = []
        self._file: TextIO | None = open(path, "a", encoding="utf-8") if path else None

    def _append(self, record: dict[str, Any]) -> None:
        with self._lock:
            record["ts"] = round(time.monotonic() - self._t0, 4)
            self._records.append(record)
            if self._file:
                self._file.write(json.dumps(record, sort_keys=False) + "\n")
                self._file.flush()

    def op(self, cluster: str, node: str, op: str, args: dict[str, Any], outcome: str) -> None:
        self._append({"ts": 0.0, "type": "op", "cluster": cluster, "node": node,
                      "op": op, "args": args, "outcome": outcome})

    def change(self, cluster: str, node: str | None, obj: str, before: Any, after: Any) -> None:
        if before == after:
            return
        self._append({"ts": 0.0, "type": "change", "cluster": cluster, "node": node,
                      "object": obj, "from": before, "to": after})

    def records(self, type: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records if type is None or r["type"] == type]

    def close(self) -> None:
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None
