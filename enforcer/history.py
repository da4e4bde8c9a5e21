"""Run history: SQLite (WAL) in STATE_DIR/history.db.

One row per run and cluster, one per step: what was planned, what was
applied, how long it took and how it ended. Every plan and apply records
here unless --no-history, and so does each scheduled run; `enforcer
history` lists it and the drift chart of a report draws from it. Values
pass through the console's redactor before they are stored.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InputError
from .model import ClusterPlan, ClusterRun, Plan, RunResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT NOT NULL, cluster TEXT NOT NULL, playbook TEXT NOT NULL, inventory TEXT NOT NULL,
    mode TEXT NOT NULL, started TEXT NOT NULL, ended TEXT NOT NULL, outcome TEXT NOT NULL,
    changes_pending INTEGER NOT NULL, changes_applied INTEGER NOT NULL, reason TEXT,
    PRIMARY KEY (id, cluster));
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL, cluster TEXT NOT NULL, seq INTEGER NOT NULL, task TEXT NOT NULL, type TEXT NOT NULL,
    node TEXT, action TEXT NOT NULL, before TEXT, after TEXT, duration_s REAL, outcome TEXT NOT NULL,
    message TEXT, PRIMARY KEY (run_id, cluster, seq));
CREATE INDEX IF NOT EXISTS runs_by_cluster ON runs (cluster, started);
"""


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class History:
    def __init__(self, path: Path, redact: Callable[[str], str] = lambda text: text) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self.redact = redact
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _json(self, value: Any) -> str:
        return self.redact(json.dumps(value, default=str))

    def record_plan(self, run_id: str, plan: Plan, mode: str, started: str) -> None:
        """A plan (or a scheduled monitor run): drift found, nothing applied."""
        for cluster in plan.clusters:
            outcome = _plan_outcome(cluster, plan)
            self._insert(run_id, cluster.cluster, plan, mode, started, outcome, len(cluster.changes), 0,
                         cluster.error, [(c, "planned", "", None) for c in cluster.changes])

    def record_run(self, run: RunResult, mode: str, started: str) -> None:
        for planned, ran in zip(run.plan.clusters, run.clusters, strict=True):
            applied = sum(1 for s in ran.steps if s.status == "changed")
            outcome = "interrupted" if run.interrupted else _run_outcome(planned, ran, run.plan)
            self._insert(run.run_id, ran.cluster, run.plan, mode, started, outcome, len(planned.changes), applied,
                         ran.error or planned.error,
                         [(s.change, s.status, s.message, s.duration_s) for s in ran.steps])

    def record_skip(self, run_id: str, cluster: str, playbook: str, inventory: str, mode: str, reason: str,
                    outcome: str = "skipped") -> None:
        """A run that did nothing to the cluster's state: skipped (busy, outside its window), or an unlock."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             (run_id, cluster, playbook, inventory, mode, now(), now(), outcome, 0, 0, reason))

    def _insert(self, run_id: str, cluster: str, plan: Plan, mode: str, started: str, outcome: str, pending: int,
                applied: int, reason: str | None, steps: list[tuple[Any, str, str, float | None]]) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             (run_id, cluster, plan.playbook, plan.inventory, mode, started, now(), outcome,
                              pending, applied, self.redact(reason) if reason else None))
            self._db.execute("DELETE FROM steps WHERE run_id = ? AND cluster = ?", (run_id, cluster))
            self._db.executemany("INSERT INTO steps VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
                (run_id, cluster, seq, change.task, change.type, change.node or f"cluster via {change.via}",
                 ",".join(change.actions), self._json(change.before), self._json(change.after), duration, status,
                 self.redact(message) if message else None)
                for seq, (change, status, message, duration) in enumerate(steps)])

    def runs(self, cluster: str | None = None, since: str | None = None,
             run_id: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM runs WHERE 1=1"
        args: list[str] = []
        if run_id:
            query, args = query + " AND id = ?", args + [run_id]
        if cluster:
            query, args = query + " AND cluster = ?", args + [cluster]
        if since:
            query, args = query + " AND started >= ?", args + [since]
        with self._lock:
            return [dict(r) for r in self._db.execute(query + " ORDER BY started, rowid", args)]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY cluster, seq", (run_id,))
            return [{**dict(r), "before": json.loads(r["before"]), "after": json.loads(r["after"])} for r in rows]


def _plan_outcome(cluster: ClusterPlan, plan: Plan) -> str:
    if any(n in plan.unreachable for n in cluster.nodes):
        return "unreachable"
    if cluster.error:
        return "failed"
    return "changes" if cluster.changes else "ok"


def _run_outcome(planned: ClusterPlan, ran: ClusterRun, plan: Plan) -> str:
    if not planned.changes:
        return _plan_outcome(planned, plan)
    return "failed" if ran.error else "changed"


def parse_since(text: str) -> str:
    """`--since` as an ISO date/time or a duration back from now (`90m`, `24h`, `7d`)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        delta = dt.timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return (dt.datetime.now(dt.timezone.utc) - delta).isoformat(timespec="seconds")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--since {text!r}: expected an ISO date/time or a duration like 24h or 7d") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).isoformat(timespec="seconds")
