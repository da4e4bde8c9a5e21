"""The KB repair with one task's op failing: the cases and what must come of each.

Both tiers use them: the component tier fails every task in process (tests/component/test_executor.py),
the end-to-end tier one over real WinRM and the CLI's JSON (tests/test_apply_faults.py). Either way
the run stops at the failing task, reports what it changed before as done and the rest as not
reached, runs no later task's op, and ends with every node Up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enforcer.simulator import Simulation

REPAIR = str(Path(__file__).resolve().parents[1] / "playbooks" / "msdtc_cluster_repair.yml")
TASK_OPS = [("KB step 3", "dtc.reset_log"), ("KB step 1", "cluster.resource.remove"), ("KB step 2", "dtc.uninstall"),
            ("KB step 4", "dtc.install"), ("depends on its role", "cluster.resource.add"),
            ("exists and is online", "cluster.group.online"),
            ("MSDTC runs on every node", "service.start"), ("Test failover", "cluster.group.move")]


def check_stopped_at(run: dict[str, Any], sim: Simulation, task: str, op: str) -> None:
    """`run`: the run as JSON (`--format json`, report.run_json)."""
    steps = run["clusters"][0]["steps"]
    statuses = [s["status"] for s in steps]
    first_failed = statuses.index("failed")
    assert task in steps[first_failed]["task"] and op in steps[first_failed]["message"]
    assert all(s == "changed" for s in statuses[:first_failed]), "earlier changes are reported as done"
    later_tasks = {s["task"] for s in steps[first_failed + 1:]} - {steps[first_failed]["task"]}
    assert all(s["status"] == "skipped" and s["message"] == "not reached" for s in steps if s["task"] in later_tasks)
    ran = {r["op"] for r in sim.journal.records("op")}
    later_ops = {o for t, o in TASK_OPS[TASK_OPS.index((task, op)) + 1:]} - {op}
    assert not ran & later_ops, f"later tasks ran: {ran & later_ops}"
    assert run["clusters"][0]["error"] and set(run["clusters"][0]["final_nodes"].values()) == {"Up"}
