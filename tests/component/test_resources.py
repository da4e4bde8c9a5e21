"""Every task type's apply(), and its settled() after a lost answer, in process (cases: data/changes.yml).

A lost answer is the case the wire makes expensive (a read timeout each) and the one that matters
most: a change sent twice, or one given up on when it had taken, is what the re-read exists to avoid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from enforcer.model import RunResult, StepResult

CASES = yaml.safe_load((Path(__file__).parent / "data" / "changes.yml").read_text(encoding="utf-8"))
CHANGES: dict[str, dict[str, Any]] = CASES["changes"]
LOST: list[dict[str, Any]] = CASES["lost_answers"]
NOTES = {"in_effect": "the answer was lost; re-read: the change is in effect",
         "applied_again": "the answer was lost; re-read: applied again"}


def _start(in_process_sim, tmp_path: Path, name: str, *faults: str):
    """The change's scenario with its drift, and a one-task playbook for it."""
    change = CHANGES[name]
    cluster = in_process_sim(change["scenario"], *faults)
    for edit in change.get("drift", []):
        cluster.sim.drift(edit)
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{"name": name, "hosts": "all",
                                         "tasks": [{"name": f"the {name} change", **change["task"]}]}]))
    return cluster, str(playbook)


def _step(run: RunResult, node: str) -> StepResult:
    """The step carried out through `node` (a node-scope task has one per node)."""
    [step] = [s for s in run.clusters[0].steps if s.change.via == node]
    return step


def _check_applied(cluster, playbook: str, name: str, steps: list[StepResult]) -> None:
    change = CHANGES[name]
    assert steps and all(s.status == "changed" for s in steps), [(s.status, s.message) for s in steps]
    for step in steps:
        assert step.data.items() >= change["data"].items(), step.data
        backups = [b["file"] for b in step.data.get("backups") or [step.data.get("backup")] if b]
        assert backups == step.change.backups, "the report names every backup taken"
        node = cluster.sim.cluster("CLU1").node(step.change.via)
        assert all(node.fs.get(file) is not None for file in backups), "and each is on the node"
    if change["converges"]:
        assert not cluster.plan(playbook).changes, "applied, a second plan finds nothing to do"


@pytest.mark.parametrize("name", list(CHANGES))
def test_each_change_is_applied_and_verified(in_process_sim, tmp_path, name):
    cluster, playbook = _start(in_process_sim, tmp_path, name)
    run = cluster.apply(playbook)
    assert not run.failed, run.clusters[0].error
    assert all(not s.message for s in run.clusters[0].steps)
    _check_applied(cluster, playbook, name, run.clusters[0].steps)


@pytest.mark.parametrize("case", LOST, ids=[f"{c['change']}-lost-at-{c['lost_at']}" for c in LOST])
def test_a_lost_answer_is_settled_by_re_reading(in_process_sim, tmp_path, case):
    fault = f"node={case['node']},on={case['lost_at']},kind={case['kind']},count=1"
    cluster, playbook = _start(in_process_sim, tmp_path, case["change"], fault)
    run = cluster.apply(playbook)
    step = _step(run, case["node"])
    if case["expect"] == "cannot_tell":
        assert step.status == "failed" and run.failed
        assert "the answer was lost" not in step.message and "cannot tell whether" in step.message
        assert "and re-reading failed" in step.message
    else:
        assert step.message == NOTES[case["expect"]]
        _check_applied(cluster, playbook, case["change"], run.clusters[0].steps)
    ran = {op: [outcome for name, outcome in cluster.ops(case["node"]) if name == op] for op in case["ran"]}
    assert ran == case["ran"]


def test_the_kb_repair_finds_the_dtc_role_by_what_it_holds_and_keeps_its_disk(in_process_sim):
    """A real DTC role is named after its client access point: a healthy one is left alone, a broken one repaired
    by removing and adding back its DTC resource only, so the role keeps its disk, name and address."""
    repair = str(Path(__file__).resolve().parents[2] / "playbooks" / "msdtc_cluster_repair.yml")
    assert not in_process_sim("healthy").plan(repair).changes, "no second DTC role beside one named otherwise"
    broken = in_process_sim("kb252641-broken")
    before = {r["name"]: r for g in broken.sim.cluster("CLU1").snapshot()["groups"] for r in g["resources"]}
    run = broken.apply(repair)
    assert not run.failed, run.clusters[0].error
    after = broken.sim.cluster("CLU1").snapshot()
    assert {g["name"]: g["state"] for g in after["groups"]} == {
        "Cluster Group": "Online", "Available Storage": "Online", "ClusterDTC": "Online"}
    role = {r["name"]: r for g in after["groups"] if g["name"] == "ClusterDTC" for r in g["resources"]}
    assert role["MSDTC-ClusterDTC"]["depends_on"] == ["ClusterDTC", "Cluster Disk 2"]
    assert role["MSDTC-ClusterDTC"]["id"] != before["MSDTC-ClusterDTC"]["id"], "a new DTC resource, a new log"
    assert role["Cluster Disk 2"]["id"] == before["Cluster Disk 2"]["id"], "the log disk survived"
    assert not broken.plan(repair).changes


def test_with_two_broken_dtc_roles_each_run_repairs_one_and_a_healthy_pair_is_left_alone(in_process_sim):
    """Each role has its own log: a run takes the first Failed role through the KB's steps, the next run the
    other one (the evidence is still there), and the run after plans nothing."""
    repair = str(Path(__file__).resolve().parents[2] / "playbooks" / "msdtc_cluster_repair.yml")
    assert not in_process_sim("two-dtc-roles").plan(repair).changes
    broken = in_process_sim("kb252641-two-dtc-roles")
    for still_failed in (["SQLDTC"], []):
        run = broken.apply(repair)
        assert not run.failed, run.clusters[0].error
        groups = {g["name"]: g["state"] for g in broken.sim.cluster("CLU1").snapshot()["groups"]}
        assert [g for g, state in groups.items() if state != "Online"] == still_failed
    assert not broken.plan(repair).changes


def test_the_repair_reads_only_evidence_from_since_the_nodes_last_started(in_process_sim):
    """A 7024 logged before a node's last start is history: the DTC resource Failed alone is not the KB's symptom,
    so none of the KB's steps is planned, only the desired state's non-destructive retry of the role online."""
    repair = str(Path(__file__).resolve().parents[2] / "playbooks" / "msdtc_cluster_repair.yml")
    rebooted = in_process_sim(str(Path(__file__).parents[1] / "data" / "scenarios" / "kb252641-rebooted-since.yml"))
    changes = rebooted.plan(repair).changes
    assert [(c.type, c.actions, c.destructive) for c in changes] == [("cluster_group", ["update"], False)]
    broken = in_process_sim("kb252641-broken").plan(repair).changes
    assert sum(c.destructive or c.disruptive for c in broken) >= 5, \
        "the same cluster with 7024 since its last start: the KB's steps"


def test_a_node_without_the_failover_clusters_module_refuses_every_cluster_change_and_names_them_all(in_process_sim):
    """CAU's Test-CauSetup idea: the plan checks every node can run the cluster cmdlets before anything changes,
    and lists every task it refuses, not the first only."""
    repair = str(Path(__file__).resolve().parents[2] / "playbooks" / "msdtc_cluster_repair.yml")
    cluster = in_process_sim("kb252641-no-cluster-module")
    run = cluster.apply(repair)
    error = run.clusters[0].error or ""
    refused = [line for line in error.splitlines() if "FailoverClusters PowerShell module is not installed on CLU1-B"
               in line]
    assert len(refused) >= 4, error  # the log reset, the resource removal, the restart, the role online...
    assert "Install-WindowsFeature RSAT-Clustering-PowerShell" in error
    assert run.failed and not [op for op, _ in cluster.ops() if op != "facts"], "nothing was changed"


def test_destructive_means_data_removed_and_disruptive_a_service_interrupted(in_process_sim):
    """Separate in every report: a restart loses nothing but is felt; an unregistration loses keys (backed up)
    and stops DTC; a key deleted by hand interrupts nothing."""
    playbooks = Path(__file__).resolve().parents[2] / "playbooks"
    restart = in_process_sim("healthy").plan(str(playbooks / "cluster_ordered_restart.yml")).changes
    assert [(c.type, c.destructive, c.disruptive) for c in restart] == [("cluster_restart", False, True)]
    marks = {(c.type, c.destructive, c.disruptive)
             for c in in_process_sim("kb252641-broken").plan(str(playbooks / "msdtc_cluster_repair.yml")).changes}
    assert {("dtc", True, True), ("dtc_log", True, True), ("cluster_restart", False, True),
            ("failover_test", False, True)} <= marks
