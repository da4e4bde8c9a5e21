"""The ordered restart under every fault at every step: exit 1, one message, recovery, true final states.

20 cases: {stop B, stop A, start A, start B} x {refuse, http500, wsman, hang, fail}. What counts is the
simulator's own state afterwards, not enforcer's report of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV, simulate

ROOT = Path(__file__).resolve().parents[1]
RESTART = str(ROOT / "playbooks" / "cluster_ordered_restart.yml")
SCENARIO = str(Path(__file__).parent / "data" / "scenarios" / "quick-clussvc.yml")
STEPS = [("stop", "CLU1-B"), ("stop", "CLU1-A"), ("start", "CLU1-A"), ("start", "CLU1-B")]
FAULT_WORDS = {"refuse": "connection", "http500": "HTTP 500", "wsman": "WinRM fault",
               "hang": "did not answer", "fail": "failed to"}


def _spec(kind: str, verb: str, node: str) -> str:
    target = f"service:ClusSvc:{verb}" if kind == "fail" else f"cluster.service.{verb}"
    return f"node={node},on={target},kind={kind}"


@pytest.mark.parametrize("kind", list(FAULT_WORDS))
@pytest.mark.parametrize("verb,node", STEPS, ids=[f"{v}-{n[-1]}" for v, n in STEPS])
def test_a_fault_at_any_step_stops_recovers_and_reports(kind, verb, node, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path))
    with simulate(SCENARIO, auth="basic-http", time_scale=0.01, faults=[_spec(kind, verb, node)]) as sim:
        inventory = tmp_path / "inventory.yml"
        sim.write_inventory(str(inventory))
        monkeypatch.setenv(PASSWORD_ENV, sim.password)

        assert main(["apply", RESTART, "-i", str(inventory), "--yes", "-e", "restart_timeout_s=1"]) == 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err + captured.out
        failures = [line for line in captured.out.splitlines() if "ordered restart failed at" in line]
        assert len(failures) == 1, captured.out
        assert f"'{verb} {node}'" in failures[0] and FAULT_WORDS[kind] in failures[0]

        # Every node that can come up is Up; only a node whose start is faulted stays down.
        states = {n["name"]: n["state"] for n in sim.state()["clusters"][0]["nodes"]}
        stuck = node if verb == "start" else None
        assert states == {n: ("Down" if n == stuck else "Up") for n in ("CLU1-A", "CLU1-B")}
        expected = ", ".join(f"{n} {states[n]}" for n in ("CLU1-A", "CLU1-B"))
        assert f"final node states: {expected}" in captured.out
