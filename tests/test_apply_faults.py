"""Faults in the KB repair's other tasks, and transient faults that a careful client rides out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enforcer.cli import main

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")


@pytest.fixture
def start(cli_sim):
    return lambda scenario, faults, **inventory_vars: cli_sim(scenario, inventory_vars=inventory_vars,
                                                             auth="basic-http", faults=faults)


TASK_OPS = [("KB step 1", "cluster.group.remove"), ("KB step 2", "registry.remove"), ("KB step 3", "path.remove"),
            ("KB step 4", "dtc.install"), ("exists and is online", "cluster.group.create_dtc"),
            ("MSDTC runs on every node", "service.start"), ("Test failover", "cluster.group.move")]


@pytest.mark.parametrize("task,op", TASK_OPS, ids=[op for _, op in TASK_OPS])
def test_a_failing_task_stops_the_run_and_earlier_changes_are_reported(task, op, start, capsys):
    sim, inventory = start("kb252641-broken", [f"node=*,on={op},kind=fail"])
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "json"]) == 1
    run = json.loads(capsys.readouterr().out)
    steps = run["clusters"][0]["steps"]
    statuses = [s["status"] for s in steps]
    first_failed = statuses.index("failed")
    assert task in steps[first_failed]["task"] and op in steps[first_failed]["message"]
    assert all(s == "changed" for s in statuses[:first_failed]), "earlier changes are reported as done"
    later_tasks = {s["task"] for s in steps[first_failed + 1:]} - {steps[first_failed]["task"]}
    assert all(s["status"] == "skipped" for s in steps if s["task"] in later_tasks)
    ran = {r["op"] for r in sim.journal.records("op")}
    later_ops = {o for t, o in TASK_OPS[TASK_OPS.index((task, op)) + 1:]} - {op}
    assert not ran & later_ops, f"later tasks ran: {ran & later_ops}"
    assert run["clusters"][0]["error"] and set(run["clusters"][0]["final_nodes"].values()) == {"Up"}


@pytest.mark.parametrize("fault", ["node=CLU1-A,on=facts,kind=http500,count=1",
                                   "node=CLU1-B,on=facts,kind=hang,count=1",
                                   "node=CLU1-A,on=any,kind=hang,count=1"])
def test_a_transient_fault_on_a_read_is_retried_and_the_run_succeeds(fault, start, capsys):
    sim, inventory = start("healthy", [fault], ansible_winrm_operation_timeout_sec=1,
                           ansible_winrm_read_timeout_sec=2)
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode", "-vv"]) == 0
    assert "retrying read-only facts" in capsys.readouterr().err or "on=any" in fault
    assert not sim.faults.snapshot(), "the fault fired"


def test_a_lost_answer_to_a_change_that_did_not_happen_is_reread_then_applied_again(start, capsys):
    sim, inventory = start("kb252641-broken", ["node=CLU1-B,on=service.start,kind=http500,count=1",
                                               "node=CLU1-A,on=registry.remove,kind=wsman,count=1"])
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    notes = [s["message"] for s in run["clusters"][0]["steps"] if s["message"]]
    assert notes.count("the answer was lost; re-read: applied again") == 2
    starts = [r for r in sim.journal.records("op") if r["op"] == "service.start" and r["node"] == "CLU1-B"]
    assert [r["outcome"] for r in starts] == ["error: injected http500 fault", "ok"]


def test_a_lost_answer_to_a_change_that_happened_is_not_applied_twice(start, capsys):
    # The answer is lost on the verifying read, after the export and the removal ran.
    sim, inventory = start("kb252641-broken", ["node=CLU1-A,on=registry.get,kind=http500,count=1"])
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    settled = [s for s in run["clusters"][0]["steps"]
               if s["message"] == "the answer was lost; re-read: the change is in effect"]
    assert len(settled) == 1 and settled[0]["data"]["backup"]["file"].endswith(".reg")
    removes = [r for r in sim.journal.records("op") if r["op"] == "registry.remove" and r["node"] == "CLU1-A"]
    assert len(removes) == 2, "one removal per key, none repeated"
