"""The ordered restart under each kind of fault, over real WinRM and the CLI: exit 1, one message, recovery.

One step per fault kind, so the WinRM transport's handling of each (a reset connection, an HTTP 500, a
WSManFault, an answer that never comes, a service that does not move) is proven on the wire; every kind at
every step runs in process in tests/component/test_restart_matrix.py.
"""

from __future__ import annotations

import pytest

from checks import started_out_of_turn
from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV, simulate
from restart_cases import EXTRA_VARS, RESTART, SCENARIO, STEPS, check_outcome, fault_spec, step_id

CASES = [("refuse", "stop", "CLU1-A"), ("http500", "start", "CLU1-B"), ("wsman", "start", "CLU1-A"),
         ("hang", "stop", "CLU1-B"), ("fail", "stop", "CLU1-A")]


@pytest.mark.parametrize("kind,verb,node", CASES, ids=[f"{step_id(v, n)}-{k}" for k, v, n in CASES])
def test_a_fault_at_a_step_stops_recovers_reports_and_exits_1(kind, verb, node, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path))
    with simulate(SCENARIO, auth="basic-http", time_scale=0.01, faults=[fault_spec(kind, verb, node)]) as sim:
        inventory = tmp_path / "inventory.yml"
        sim.write_inventory(str(inventory))
        monkeypatch.setenv(PASSWORD_ENV, sim.password)

        extra = [arg for var in EXTRA_VARS for arg in ("-e", var)]
        assert main(["apply", RESTART, "-i", str(inventory), "--yes", *extra]) == 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        check_outcome(captured.out, sim, kind, verb, node)


@pytest.mark.parametrize("verb,node", STEPS, ids=[step_id(v, n) for v, n in STEPS])
def test_a_send_answered_with_an_operation_timeout_at_a_step_is_settled_and_a_later_run_converges(
        verb, node, tmp_path, monkeypatch, capsys):
    """A loaded node answers the Send of a step's request with WinRM's OperationTimeout after taking it: the
    step re-reads the node, sends again only if the node is not there yet, and the restart goes on in order."""
    fault = f"node={node},on=wsman:send:cluster.service.{verb},kind=optimeout,count=1"
    with simulate(SCENARIO, auth="ntlm", time_scale=0.01, faults=[fault]) as sim:
        inventory = tmp_path / "inventory.yml"
        sim.write_inventory(str(inventory))
        monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path))
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        extra = [arg for var in EXTRA_VARS for arg in ("-e", var)]
        assert main(["apply", RESTART, "-i", str(inventory), "--yes", *extra]) == 0
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err + captured.out
        assert not sim.faults.snapshot(), "the timeout was met"
        cluster = sim.state()["clusters"][0]
        assert [n["state"] for n in cluster["nodes"]] == ["Up", "Up"] and not started_out_of_turn(cluster)
        assert main(["apply", RESTART, "-i", str(inventory), "--yes", *extra]) == 0, "a later run converges"
        assert [n["state"] for n in sim.state()["clusters"][0]["nodes"]] == ["Up", "Up"]


def test_a_command_answered_with_an_operation_timeout_is_a_lost_read_and_read_again(tmp_path, monkeypatch, capsys):
    """The Command's answer (its id) is lost: the agent never got its request, and a read is simply sent again."""
    with simulate(SCENARIO, auth="ntlm", time_scale=0.01,
                  faults=["node=CLU1-A,on=wsman:command,kind=optimeout,count=1"]) as sim:
        inventory = tmp_path / "inventory.yml"
        sim.write_inventory(str(inventory))
        monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path))
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        assert main(["plan", RESTART, "-i", str(inventory)]) == 0
        assert "Traceback" not in capsys.readouterr().err and not sim.faults.snapshot()
        assert [r["op"] for r in sim.journal.records("op") if r["node"] == "CLU1-A"] == ["facts"]
