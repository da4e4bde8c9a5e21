"""Prometheus textfile metrics for node_exporter's textfile collector.

Rewritten whole (atomically) after every cluster run, from the latest run of
each cluster this process has seen.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

OUTCOMES = ("ok", "changes", "changed", "failed", "unreachable", "locked", "interrupted", "killed", "skipped")


class Metrics:
    def __init__(self, path: str) -> None:
        self.path = path
        self.latest: dict[str, dict[str, Any]] = {}

    def update(self, run: dict[str, Any]) -> None:
        """`run` is a history row; the file then holds every cluster's latest."""
        self.latest[run["cluster"]] = run
        registry = CollectorRegistry()
        last = Gauge("enforcer_last_run_timestamp_seconds", "When the cluster's last run ended (Unix time).",
                     ["cluster"], registry=registry)
        outcome = Gauge("enforcer_last_run_outcome", "1 for the outcome of the cluster's last run, 0 for the others.",
                        ["cluster", "outcome"], registry=registry)
        pending = Gauge("enforcer_changes_pending", "Changes the last run found pending.", ["cluster"],
                        registry=registry)
        applied = Gauge("enforcer_changes_applied", "Changes the last run applied.", ["cluster"], registry=registry)
        for cluster, row in sorted(self.latest.items()):
            last.labels(cluster).set(dt.datetime.fromisoformat(row["ended"]).timestamp())
            for name in OUTCOMES:
                outcome.labels(cluster, name).set(1 if row["outcome"] == name else 0)
            pending.labels(cluster).set(row["changes_pending"])
            applied.labels(cluster).set(row["changes_applied"])
        write_to_textfile(self.path, registry)
