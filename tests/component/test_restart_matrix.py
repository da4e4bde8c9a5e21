"""The ordered restart under every fault at every step, in process: the matrix the wire cannot afford.

A lasting fault: {stop B, stop A, start A, start B} x {refuse, http500, wsman, hang, fail}, 20 cases, each
checked as the end-to-end tier checks its one case per kind (restart_cases.check_outcome), and in the
simulator's journal: what was stopped before the failure is started again, last stopped first.
A transient fault (one lost answer) at any step is ridden out: the node is re-read, the step sent again
only if it did not happen, and the restart completes in order.
"""

from __future__ import annotations

import pytest

from enforcer.report import recap_text
from restart_cases import EXTRA_VARS, FAULT_WORDS, RESTART, STEPS, check_outcome, fault_spec, step_id

IN_ORDER = [("CLU1-B", "Stopped"), ("CLU1-A", "Stopped"), ("CLU1-A", "Running"), ("CLU1-B", "Running")]

# The cluster service's changes when a step fails for good: the steps before it, then the recovery
# (start what this run stopped, last stopped first; a faulted start changes nothing; and when the node
# that stopped last cannot start, no other is started: the witness is a file share, without a copy).
AFTER_A_LASTING_FAULT = {
    ("stop", "CLU1-B"): [],
    ("stop", "CLU1-A"): [("CLU1-B", "Stopped"), ("CLU1-B", "Running")],
    ("start", "CLU1-A"): [("CLU1-B", "Stopped"), ("CLU1-A", "Stopped")],
    ("start", "CLU1-B"): [("CLU1-B", "Stopped"), ("CLU1-A", "Stopped"), ("CLU1-A", "Running")],
}
LOST_ANSWERS = [kind for kind in FAULT_WORDS if kind != "fail"]


@pytest.mark.parametrize("kind", list(FAULT_WORDS))
@pytest.mark.parametrize("verb,node", STEPS, ids=[step_id(v, n) for v, n in STEPS])
def test_a_lasting_fault_at_any_step_stops_recovers_and_reports(in_process_sim, kind, verb, node):
    cluster = in_process_sim("quick-clussvc", fault_spec(kind, verb, node))
    run = cluster.apply(RESTART, *EXTRA_VARS)
    assert run.failed and not run.interrupted
    [step] = run.clusters[0].steps
    assert step.status == "failed" and step.message.startswith(f"ordered restart failed at '{verb} {node}'")
    check_outcome(recap_text(run), cluster.sim, kind, verb, node)
    assert cluster.changes("service:ClusSvc") == AFTER_A_LASTING_FAULT[(verb, node)]


@pytest.mark.parametrize("kind", LOST_ANSWERS)
@pytest.mark.parametrize("verb,node", STEPS, ids=[step_id(v, n) for v, n in STEPS])
def test_one_lost_answer_at_any_step_is_reread_and_the_restart_completes_in_order(in_process_sim, kind, verb, node):
    cluster = in_process_sim("quick-clussvc", fault_spec(kind, verb, node) + ",count=1")
    run = cluster.apply(RESTART, *EXTRA_VARS)
    assert not run.failed, run.clusters[0].error
    assert cluster.changes("service:ClusSvc") == IN_ORDER
    assert run.clusters[0].final_nodes == {"CLU1-A": "Up", "CLU1-B": "Up"}
    ops = [op for op, _ in cluster.ops(node) if op != "facts"]
    lost_at = ops.index(f"cluster.service.{verb}")
    assert ops[lost_at:lost_at + 4] == [f"cluster.service.{verb}", "service.get", "cluster.nodes",
                                        f"cluster.service.{verb}"]


def test_with_a_disk_witness_recovery_starts_the_other_node_when_the_last_one_down_cannot_start(in_process_sim):
    """The disk witness holds the newest configuration, so B may form the cluster in A's place."""
    cluster = in_process_sim("quick-clussvc-disk-witness", fault_spec("fail", "start", "CLU1-A"))
    run = cluster.apply(RESTART, *EXTRA_VARS)
    [step] = run.clusters[0].steps
    assert step.status == "failed" and "CLU1-B Up" in step.message and "CLUSTER IS DOWN" not in step.message
    assert cluster.changes("service:ClusSvc") == [("CLU1-B", "Stopped"), ("CLU1-A", "Stopped"),
                                                  ("CLU1-B", "Running")]
    assert run.clusters[0].final_nodes == {"CLU1-A": "Down", "CLU1-B": "Up"}
