"""The executor in process: waves, a cluster's stop at its first failure, not-reached steps, final node states."""

from __future__ import annotations

import threading

import pytest

from enforcer.executor import RunObserver
from enforcer.model import StepResult
from enforcer.report import run_json
from repair_cases import REPAIR, TASK_OPS, check_stopped_at

UNREGISTER_TASK = "Unregister MSDTC with msdtc -uninstall, its keys exported first (KB step 2)"


@pytest.mark.parametrize("task,op", TASK_OPS, ids=[op for _, op in TASK_OPS])
def test_a_failing_task_stops_the_run_and_earlier_changes_are_reported(in_process_sim, task, op):
    cluster = in_process_sim("kb252641-broken", f"node=*,on={op},kind=fail")
    check_stopped_at(run_json(cluster.apply(REPAIR)), cluster.sim, task, op)


def test_a_disruptive_task_rolls_node_by_node_and_stops_at_the_first_node_that_fails(in_process_sim):
    """msdtc -uninstall interrupts DTC: its nodes go one at a time (serial 1 by default), and CLU1-A's failure
    keeps CLU1-B from being touched at all (max_fail_percentage 0); the cluster then stops before the next task."""
    cluster = in_process_sim("kb252641-broken", "node=CLU1-A,on=dtc.uninstall,kind=fail,count=1")
    run = cluster.apply(REPAIR).clusters[0]
    steps = [(s.change.node, s.status, s.message) for s in run.steps if s.change.task == UNREGISTER_TASK]
    assert [k[:2] for k in steps] == [("CLU1-A", "failed"), ("CLU1-B", "skipped")]
    assert steps[1][2] == "not reached: 1 of 2 node(s) failed, more than max_fail_percentage 0"
    assert "dtc.uninstall" not in [op for op, _ in cluster.ops("CLU1-B")]
    later = run.steps[[s.change.task for s in run.steps].index(UNREGISTER_TASK) + 2:]
    assert later and all((s.status, s.message) == ("skipped", "not reached") for s in later)
    assert run.error == f"task '{UNREGISTER_TASK}' failed: {steps[0][2]}"


STOP_MSDTC = """
- name: Stop MSDTC on every node
  hosts: all
  serial: {serial}
  max_fail_percentage: {max_fail}
  tasks:
    - name: MSDTC is stopped
      service: {{name: MSDTC, state: stopped}}
"""


@pytest.mark.parametrize("serial, max_fail, b_status", [(1, 50, "changed"), (1, 49, "skipped"), ("100%", 0, "changed")])
def test_serial_and_max_fail_percentage_decide_how_far_a_disruptive_task_goes(in_process_sim, tmp_path, serial,
                                                                               max_fail, b_status):
    playbook = tmp_path / "stop.yml"
    playbook.write_text(STOP_MSDTC.format(serial=serial, max_fail=max_fail))
    cluster = in_process_sim("healthy", "node=CLU1-A,on=service.stop,kind=fail,count=1")
    steps = {s.change.node: s for s in cluster.apply(playbook).clusters[0].steps}
    assert (steps["CLU1-A"].status, steps["CLU1-B"].status) == ("failed", b_status)


def test_one_node_at_a_time_means_the_next_starts_after_the_last_finished(in_process_sim, tmp_path):
    playbook = tmp_path / "stop.yml"
    playbook.write_text(STOP_MSDTC.format(serial=1, max_fail=0))
    a, b = in_process_sim("healthy").apply(playbook).clusters[0].steps
    assert (a.change.node, b.change.node) == ("CLU1-A", "CLU1-B") and a.status == b.status == "changed"
    assert a.started_at + a.duration_s <= b.started_at


def test_a_failing_cluster_stops_alone_while_the_others_finish(in_process_sim):
    cluster = in_process_sim("kb252641-broken", "node=CLU1-A,on=dtc.install,kind=fail", clusters=2)
    run = cluster.apply(REPAIR)
    first, second = run.clusters
    assert "KB step 4" in first.error and second.error is None
    assert {s.status for s in second.steps} == {"changed"}
    assert cluster.sim.cluster("CLU2").node("CLU2-A").service("MSDTC").status == "Running"


class _StopAfterFirstStep(RunObserver):
    """The operator's Ctrl-C, as the executor sees it: the stop event, set once a step has finished."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def step_finished(self, result: StepResult) -> None:
        self.stop.set()


def test_an_interrupt_lets_the_wave_in_flight_finish_and_reaches_nothing_after_it(in_process_sim):
    cluster = in_process_sim("kb252641-broken")
    stop = threading.Event()
    run = cluster.apply(REPAIR, observer=_StopAfterFirstStep(stop), stop=stop)
    assert run.interrupted
    [cr] = run.clusters
    assert cr.steps[0].status == "changed"
    assert cr.error == f"interrupted before: {cr.steps[1].change.task}"
    assert all((s.status, s.message) == ("skipped", "not reached") for s in cr.steps[1:])
    assert cr.final_nodes == {"CLU1-A": "Up", "CLU1-B": "Up"}


def test_final_node_states_are_unknown_when_no_node_answers_for_the_cluster(in_process_sim):
    cluster = in_process_sim("kb252641-broken", "node=*,on=cluster.nodes,kind=refuse")
    run = cluster.apply(REPAIR)
    assert not run.failed
    assert run.clusters[0].final_nodes == {"CLU1-A": "unknown", "CLU1-B": "unknown"}


def test_final_node_states_are_asked_of_the_next_node_when_the_first_does_not_answer(in_process_sim):
    cluster = in_process_sim("kb252641-broken", "node=CLU1-A,on=cluster.nodes,kind=http500")
    run = cluster.apply(REPAIR)
    assert run.clusters[0].final_nodes == {"CLU1-A": "Up", "CLU1-B": "Up"}
    assert ("cluster.nodes", "ok") in cluster.ops("CLU1-B")
