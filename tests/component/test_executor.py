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


def test_in_a_wave_a_node_stops_at_its_own_failure_while_the_others_carry_on(in_process_sim):
    """A task's per-node changes are one wave: CLU1-A's unregister fails while CLU1-B's goes through; the
    cluster then stops before the next task."""
    cluster = in_process_sim("kb252641-broken", "node=CLU1-A,on=dtc.uninstall,kind=fail,count=1")
    run = cluster.apply(REPAIR).clusters[0]
    steps = [(s.change.node, s.status, s.message) for s in run.steps if s.change.task == UNREGISTER_TASK]
    assert [k[:2] for k in steps] == [("CLU1-A", "failed"), ("CLU1-B", "changed")]
    assert [op for op, outcome in cluster.ops("CLU1-B") if op == "dtc.uninstall"] == ["dtc.uninstall"]
    later = run.steps[[s.change.task for s in run.steps].index(UNREGISTER_TASK) + 2:]
    assert later and all((s.status, s.message) == ("skipped", "not reached") for s in later)
    assert run.error == f"task '{UNREGISTER_TASK}' failed: {steps[0][2]}"


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
