"""The ordered restart under each kind of fault, over real WinRM and the CLI: exit 1, one message, recovery.

One step per fault kind, so the WinRM transport's handling of each (a reset connection, an HTTP 500, a
WSManFault, an answer that never comes, a service that does not move) is proven on the wire; every kind at
every step runs in process in tests/component/test_restart_matrix.py.
"""

from __future__ import annotations

import pytest

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV, simulate
from restart_cases import EXTRA_VARS, RESTART, SCENARIO, check_outcome, fault_spec, step_id

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
