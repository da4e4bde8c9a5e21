"""cluster_node: pause, drain and resume a node, as Cluster-Aware Updating does before it updates one."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks import one_task_playbook
from enforcer.simulator.entities import SimError


def _playbook(tmp_path: Path, title: str, **args: object) -> str:
    return one_task_playbook(tmp_path, title, "cluster_node", **args)


# The groups of the healthy scenario: the core group, the spare disk's Available Storage, the DTC role.
GROUPS = ("Cluster Group", "Available Storage", "ClusterDTC")


def _all_on(node: str) -> dict[str, str]:
    return dict.fromkeys(GROUPS, node)


def _owners(cluster) -> dict[str, str]:
    return {g["name"]: g["owner"] for g in cluster.sim.cluster("CLU1").snapshot()["groups"]}


def test_paused_then_up_round_trip_applies_once_and_then_plans_nothing(in_process_sim, tmp_path):
    cluster = in_process_sim("healthy")
    pause = _playbook(tmp_path, "pause", name="CLU1-B", state="paused")
    resume = _playbook(tmp_path, "resume", name="CLU1-B", state="up")

    [change] = cluster.plan(pause).changes
    assert (change.before, change.after, change.via) == ("Up", "Paused", "CLU1-B")
    assert cluster.apply(pause).clusters[0].steps[0].status == "changed"
    assert cluster.changes("node:CLU1-B") == [("CLU1-B", "Paused")]
    assert not cluster.plan(pause).changes, "paused, a second plan finds nothing to do"
    assert _owners(cluster) == _all_on("CLU1-A"), "a pause moves no role"

    assert cluster.apply(resume).clusters[0].steps[0].status == "changed"
    assert cluster.changes("node:CLU1-B") == [("CLU1-B", "Paused"), ("CLU1-B", "Up")]
    assert not cluster.plan(resume).changes


def test_drain_moves_the_roles_says_where_in_the_plan_and_failback_brings_them_back(in_process_sim, tmp_path):
    cluster = in_process_sim("healthy")
    drain = _playbook(tmp_path, "drain", name="CLU1-A", state="drained")

    [change] = cluster.plan(drain).changes
    assert ("Available Storage is expected to move to CLU1-B; Cluster Group is expected to move to CLU1-B; "
            "ClusterDTC is expected to move to CLU1-B") in change.reason
    step = cluster.apply(drain).clusters[0].steps[0]
    assert step.status == "changed", step.message
    assert {(m["group"], m["to"]) for m in step.data["moved"]} == {
        ("Cluster Group", "CLU1-B"), ("Available Storage", "CLU1-B"), ("ClusterDTC", "CLU1-B")}
    assert _owners(cluster) == _all_on("CLU1-B")
    assert not cluster.plan(drain).changes, "drained, a second plan finds nothing to do"

    back = _playbook(tmp_path, "back", name="CLU1-A", state="up", failback=True)
    assert cluster.apply(back).clusters[0].steps[0].status == "changed"
    assert _owners(cluster) == _all_on("CLU1-A")
    assert not cluster.plan(back).changes


def test_a_drain_whose_role_cannot_move_fails_naming_it_and_changes_nothing(in_process_sim, tmp_path):
    cluster = in_process_sim("healthy")
    cluster.sim.drift({"action": "node.pause", "node": "CLU1-B"})
    drain = _playbook(tmp_path, "drain", name="CLU1-A", state="drained")

    plan = cluster.plan(drain)
    error = plan.clusters[0].error or ""
    # every role of CLU1-A is stuck; the plan names the first of them (by name)
    assert not plan.changes and "cannot drain CLU1-A: role Available Storage has no node to move to" in error
    assert "CLU1-B is Paused" in error
    run = cluster.apply(drain)
    assert run.clusters[0].error and not run.clusters[0].steps
    assert not cluster.changes("node:CLU1-A") and _owners(cluster) == _all_on("CLU1-A")


def test_a_drain_planned_before_the_other_node_paused_is_refused_by_the_node_with_nothing_changed(
        in_process_sim, tmp_path):
    """The plan is only as fresh as its facts: the agent checks again just before it drains."""
    from enforcer import api

    cluster = in_process_sim("healthy")
    drain = _playbook(tmp_path, "drain", name="CLU1-A", state="drained")
    loaded = cluster.load(drain)
    with cluster.connections() as connections:
        plan = api.plan(loaded, connections, "stale")
        cluster.sim.drift({"action": "node.pause", "node": "CLU1-B"})
        run = api.apply(plan, connections, "stale", loaded.forks)
    [step] = run.clusters[0].steps
    assert step.status == "failed" and "Cluster Group" in step.message, step.message
    assert not cluster.changes("node:CLU1-A") and _owners(cluster) == _all_on("CLU1-A")


def test_a_paused_node_takes_no_role_by_move_or_by_failover(in_process_sim, tmp_path):
    cluster = in_process_sim("healthy")
    cluster.apply(_playbook(tmp_path, "pause", name="CLU1-B", state="paused"))
    move = one_task_playbook(tmp_path, "move", "cluster_group", name="ClusterDTC", owner="CLU1-B")
    [step] = cluster.apply(move).clusters[0].steps
    assert step.status == "failed" and "Paused" in step.message
    clu = cluster.sim.cluster("CLU1")
    clu.stop_cluster_service(clu.node("CLU1-A"), 60)
    assert {g["name"]: g["state"] for g in clu.snapshot()["groups"]} == dict.fromkeys(GROUPS, "Offline")


def test_pause_survives_a_cluster_service_restart(in_process_sim, tmp_path):
    cluster = in_process_sim("healthy")
    cluster.apply(_playbook(tmp_path, "pause", name="CLU1-B", state="paused"))
    clu = cluster.sim.cluster("CLU1")
    clu.stop_cluster_service(clu.node("CLU1-B"), 60)
    clu.start_cluster_service(clu.node("CLU1-B"), 60)
    assert clu.node("CLU1-B").state == "Paused"


def test_a_paused_node_s_groups_stay_offline(in_process_sim, tmp_path):
    """PauseClusterNode: the groups a Paused node owns can be taken offline, not brought online there."""
    cluster = in_process_sim("healthy")
    cluster.apply(_playbook(tmp_path, "pause", name="CLU1-A", state="paused"))
    clu = cluster.sim.cluster("CLU1")
    clu.take_offline(clu.group("ClusterDTC"))
    online = one_task_playbook(tmp_path, "online", "cluster_group", name="ClusterDTC", state="online")
    [step] = cluster.apply(online).clusters[0].steps
    assert step.status == "failed" and "the node is Paused" in step.message
    assert clu.group("ClusterDTC").state == "Offline"


def test_a_drain_whose_moved_role_fails_on_its_new_node_fails(in_process_sim, tmp_path):
    """DrainStatus Failed: the node is Paused, but a role it moved did not come online where it went."""
    cluster = in_process_sim("healthy", "node=CLU1-B,on=group:ClusterDTC:online,kind=fail")
    [step] = cluster.apply(_playbook(tmp_path, "drain", name="CLU1-A", state="drained")).clusters[0].steps
    assert step.status == "failed" and "'ClusterDTC' is Failed on CLU1-B" in step.message, step.message
    assert cluster.sim.cluster("CLU1").node("CLU1-A").state == "Paused", "it stays Paused, as after a failed drain"


def test_a_drain_plans_each_role_only_onto_a_possible_owner_and_the_node_agrees(in_process_sim, tmp_path):
    """Possible owners bound where a role may go: a role no other node may own stops the drain before it starts."""
    cluster = in_process_sim("healthy-dtc-pinned-to-a")
    drain = _playbook(tmp_path, "drain", name="CLU1-A", state="drained")
    error = cluster.plan(drain).clusters[0].error or ""
    assert "cannot drain CLU1-A: role ClusterDTC has no node to move to (CLU1-B is not a possible owner" in error
    model = cluster.sim.cluster("CLU1")
    with pytest.raises(SimError, match="no node can take the cluster group 'ClusterDTC'"):
        model.suspend_node("CLU1-A", True, 60)
    assert model.node("CLU1-A").state == "Up" and _owners(cluster) == _all_on("CLU1-A"), "nothing changed"
