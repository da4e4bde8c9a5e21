"""The ordered restart under a lasting fault at one step: the cases and what must come of each.

Both tiers use them: the component tier runs every step under every fault kind in process
(tests/component/test_restart_matrix.py), the end-to-end tier one step per kind over real WinRM
and the CLI (tests/test_restart_faults.py). Either way the run fails with exactly one message
naming the step and the fault, every node this run stopped is started again as long as the
"last down, first up" rule allows, and the report's final node states are the simulator's own.
"""

from __future__ import annotations

from pathlib import Path

from checks import started_out_of_turn
from enforcer.simulator import Simulation

ROOT = Path(__file__).resolve().parents[1]
RESTART = str(ROOT / "playbooks" / "cluster_ordered_restart.yml")
SCENARIO = str(ROOT / "tests" / "data" / "scenarios" / "quick-clussvc.yml")
EXTRA_VARS = ("restart_timeout_s=1",)
NODES = ("CLU1-A", "CLU1-B")
STEPS = [("stop", "CLU1-B"), ("stop", "CLU1-A"), ("start", "CLU1-A"), ("start", "CLU1-B")]
FAULT_WORDS = {"refuse": "connection", "http500": "HTTP 500", "wsman": "WinRM fault",
               "hang": "did not answer", "fail": "failed to"}


def step_id(verb: str, node: str) -> str:
    return f"{verb}-{node[-1]}"


def fault_spec(kind: str, verb: str, node: str) -> str:
    """A lasting fault on one step: `fail` leaves the service where it is, the others lose the answer."""
    target = f"service:ClusSvc:{verb}" if kind == "fail" else f"cluster.service.{verb}"
    return f"node={node},on={target},kind={kind}"


def check_outcome(output: str, sim: Simulation, kind: str, verb: str, node: str) -> None:
    """`output`: what the run printed (the CLI's stdout, or the recap it prints)."""
    assert "Traceback" not in output
    failures = [line for line in output.splitlines() if "ordered restart failed at" in line]
    assert len(failures) == 1, output
    assert f"'{verb} {node}'" in failures[0] and FAULT_WORDS[kind] in failures[0]

    # Every node that can come up safely is Up; a node whose start is faulted stays down, and when that is
    # the node that stopped last (A) no other starts: the witness is a file share, with no copy of the
    # configuration, so B would start the cluster on an older one.
    states = {n["name"]: n["state"] for n in sim.state()["clusters"][0]["nodes"]}
    stuck = {node} if verb == "start" else set()
    if (verb, node) == ("start", "CLU1-A"):
        stuck = set(NODES)
        assert "THE CLUSTER IS DOWN: CLU1-A holds the newest configuration (it stopped last)" in failures[0]
        assert "CLU1-B not started" in failures[0]
    assert states == {n: ("Down" if n in stuck else "Up") for n in NODES}
    assert not started_out_of_turn(sim.state()["clusters"][0])
    expected = ", ".join(f"{n} {states[n]}" for n in NODES)
    assert f"final node states: {expected}" in output
