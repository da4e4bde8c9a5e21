"""Faults in the KB repair over real WinRM and the CLI: a failing task, a hung connection, lost answers.

One case of each, on the wire. The matrices run in process in tests/component/: every task failing
(test_executor.py), a lost answer on every task type (test_resources.py), lost reads (test_inprocess_transport.py).
"""

from __future__ import annotations

import json

import pytest

from enforcer.cli import main
from repair_cases import REPAIR, check_stopped_at


@pytest.fixture
def start(cli_sim):
    return lambda scenario, faults, **inventory_vars: cli_sim(scenario, inventory_vars=inventory_vars,
                                                             auth="basic-http", faults=faults)


def test_a_failing_task_stops_the_run_exits_1_and_earlier_changes_are_reported(start, capsys):
    sim, inventory = start("kb252641-broken", ["node=*,on=dtc.install,kind=fail"])
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "json"]) == 1
    check_stopped_at(json.loads(capsys.readouterr().out), sim, "KB step 4", "dtc.install")


def test_a_connection_that_hangs_once_on_a_read_is_retried_and_the_plan_succeeds(start, capsys):
    """A hang below WS-Management (on=any: HTTP only, so it cannot run in process): a real read timeout. The first
    one meets the first contact (the account's authentication), the second the facts call, which is read again."""
    sim, inventory = start("healthy", ["node=CLU1-A,on=any,kind=hang,count=2"], ansible_winrm_operation_timeout_sec=1,
                           ansible_winrm_read_timeout_sec=2)
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode", "-vv"]) == 0
    assert "retrying read-only facts" in capsys.readouterr().err
    assert not sim.faults.snapshot(), "the fault fired"


def test_a_lost_answer_to_a_change_that_did_not_happen_is_reread_then_applied_again(start, capsys):
    sim, inventory = start("kb252641-broken", ["node=CLU1-B,on=service.start,kind=http500,count=1",
                                               "node=CLU1-A,on=dtc.uninstall,kind=wsman,count=1"])
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    notes = [s["message"] for s in run["clusters"][0]["steps"] if s["message"]]
    assert notes.count("the answer was lost; re-read: applied again") == 2
    starts = [r for r in sim.journal.records("op") if r["op"] == "service.start" and r["node"] == "CLU1-B"]
    assert [r["outcome"] for r in starts] == ["error: injected http500 fault", "ok"]



@pytest.mark.parametrize("auth", ["ntlm", "basic-http"])
def test_rejected_credentials_are_tried_on_one_node_only_and_exit_3_naming_account_and_node(
        cli_sim, monkeypatch, capsys, auth):
    """No lockout: a wrong domain password tried on every node at once would lock the account in one run."""
    sim, inventory = cli_sim("healthy", auth=auth, clusters=2)
    monkeypatch.setenv("ENFORCER_PASSWORD", "wrong-" + sim.password)
    assert main(["plan", REPAIR, "-i", inventory]) == 3
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"CLU1-A: the credentials of {sim.user} were rejected by http://" in text, text
    assert "not tried: the same credentials were rejected by CLU1-A" in text
    assert sim.password not in text
    tried = {node for node, count in sim.server.requests.items() if count}
    assert tried == {"CLU1-A"}, f"only the first node met the wrong password, not {sorted(tried)}"


def test_an_answer_in_clear_on_an_encrypted_session_is_refused(cli_sim, capsys):
    """Anyone on the path could write an answer in clear: on an NTLM session facts come only from sealed answers."""
    sim, inventory = cli_sim("healthy", auth="ntlm", faults=["node=CLU1-B,on=any,kind=clear"])
    assert main(["plan", REPAIR, "-i", inventory]) == 3
    out = capsys.readouterr()
    assert "CLU1-B" in out.out + out.err and "refused an answer in clear on an encrypted session" in out.out + out.err
    sim.faults.clear()
    sim.add_fault("node=CLU1-B,on=any,kind=clear,count=1")
    assert main(["plan", REPAIR, "-i", inventory, "-vv"]) == 0, "a transient one: the read is sent again"
    assert "retrying read-only facts" in capsys.readouterr().err
