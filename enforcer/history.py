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
CREATE TABLE IF NOT EXISTS backups (
    run_id TEXT NOT NULL, cluster TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_cluster ON runs (cluster, started);
CREATE INDEX IF NOT EXISTS backups_by_run ON backups (run_id);
"""

# Who ran it, from where, with what: columns added to `runs` after its first release (ALTER TABLE on an older
# history). Written when the run starts; a run's later rows leave them as they are.
AUDIT_COLUMNS = ("operator", "control_host", "pid", "enforcer_version", "playbook_sha256", "git_commit",
                 "extra_vars", "host_limit", "tags")
# A row a run writes when it starts, and finds still there if it died: `killed` once seen dead.
RUNNING, KILLED = "running", "killed"


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
            have = {row["name"] for row in self._db.execute("PRAGMA table_info(runs)")}
            for column in AUDIT_COLUMNS:
                if column not in have:
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")

    def close(self) -> None:
        self._db.close()

    def _json(self, value: Any) -> str:
        return self.redact(json.dumps(value, default=str))

    def record_start(self, run_id: str, clusters: list[str], playbook: str, inventory: str, mode: str,
                     started: str, audit: dict[str, Any]) -> None:
        """The run, before it touches anything: `running` until its end is recorded (or it is found dead)."""
        for cluster in clusters:
            self._upsert({"id": run_id, "cluster": cluster, "playbook": playbook, "inventory": inventory,
                          "mode": mode, "started": started, "ended": started, "outcome": RUNNING,
                          "changes_pending": 0, "changes_applied": 0, "reason": None,
                          **{k: self._audit_value(audit.get(k)) for k in AUDIT_COLUMNS}})

    def record_backups(self, run_id: str, cluster: str, backups: list[dict[str, Any]]) -> None:
        """Backups as each step takes them, with their SHA-256: a run killed later can still be restored."""
        with self._lock, self._db:
            self._db.executemany("INSERT INTO backups VALUES (?,?,?)",
                                 [(run_id, cluster, self._json(backup)) for backup in backups])

    def backups(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM backups WHERE run_id = ? ORDER BY rowid", (run_id,))
            return [json.loads(r["record"]) for r in rows]

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
                    outcome: str = "skipped", audit: dict[str, Any] | None = None) -> None:
        """A run that did nothing to the cluster's state: skipped (busy, outside its window), or an unlock."""
        self._upsert({"id": run_id, "cluster": cluster, "playbook": playbook, "inventory": inventory, "mode": mode,
                      "started": now(), "ended": now(), "outcome": outcome, "changes_pending": 0,
                      "changes_applied": 0, "reason": self.redact(reason),
                      **{k: self._audit_value(v) for k, v in (audit or {}).items()}})

    def record_end(self, run_id: str, outcome: str, reason: str) -> None:
        """A run that ended without recording its end (an error, Ctrl-C before the plan): its rows still running."""
        with self._lock, self._db:
            self._db.execute("UPDATE runs SET outcome = ?, ended = ?, reason = ? WHERE id = ? AND outcome = ?",
                             (outcome, now(), self.redact(reason), run_id, RUNNING))

    def mark_dead(self, host: str, alive: Callable[[int], bool]) -> None:
        """Runs of this control host still `running` whose process is gone: killed (kill -9, a crash, power)."""
        with self._lock, self._db:
            rows = self._db.execute("SELECT DISTINCT id, pid FROM runs WHERE outcome = ? AND control_host = ?",
                                    (RUNNING, host)).fetchall()
            for row in rows:
                if row["pid"] and not alive(int(row["pid"])):
                    self._db.execute("UPDATE runs SET outcome = ?, reason = ? WHERE id = ? AND outcome = ?",
                                     (KILLED, f"found dead: pid {row['pid']} on {host} no longer runs; its backups "
                                              f"so far are restorable (enforcer restore {row['id']})", row["id"],
                                      RUNNING))

    def _audit_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return self.redact(value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True))

    def _upsert(self, row: dict[str, Any]) -> None:
        """Insert the run's row, or update the columns given of the one its start wrote."""
        columns = list(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("id", "cluster"))
        with self._lock, self._db:
            self._db.execute(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                             f"ON CONFLICT (id, cluster) DO UPDATE SET {updates}", [row[c] for c in columns])

    def _insert(self, run_id: str, cluster: str, plan: Plan, mode: str, started: str, outcome: str, pending: int,
                applied: int, reason: str | None, steps: list[tuple[Any, str, str, float | None]]) -> None:
        self._upsert({"id": run_id, "cluster": cluster, "playbook": plan.playbook, "inventory": plan.inventory,
                      "mode": mode, "started": started, "ended": now(), "outcome": outcome,
                      "changes_pending": pending, "changes_applied": applied,
                      "reason": self.redact(reason) if reason else None})
        with self._lock, self._db:
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
    if cluster.cluster in plan.locked:
        return "locked"
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
