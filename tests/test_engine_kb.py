"""KB Q252641 end to end: the CLI against the simulator over WinRM, checked in the simulator's own records."""

from __future__ import annotations

import json
from pathlib import Path

from checks import started_out_of_turn
from enforcer.cli import main

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")
RESTART = str(ROOT / "playbooks" / "cluster_ordered_restart.yml")
AUDIT = str(ROOT / "playbooks" / "msdtc_audit.yml")


def changes(sim) -> list[dict]:
    return sim.journal.records("change")


def ops(sim) -> list[dict]:
    return sim.journal.records("op")


def test_kb252641_broken_is_repaired_in_order_and_stays_repaired(cli_sim, capsys):
    sim, inventory = cli_sim("kb252641-broken", auth="ntlm")

    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode", "--format", "json"]) == 2
    plan = json.loads(capsys.readouterr().out)
    tasks = [c["task"] for c in plan["clusters"][0]["changes"]]
    for step in range(1, 7):
        assert any(f"KB step {step})" in t for t in tasks), f"KB step {step} is not in the plan"
    assert any("KB step 8" in o["task"] and o["status"] == "ok" for o in plan["clusters"][0]["outcomes"])
    assert any("KB step 7" in o["task"] and o["status"] == "skipped" for o in plan["clusters"][0]["outcomes"])
    assert not changes(sim), "a plan changes nothing"

    assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 0
    restarts = [(r["node"], r["to"]) for r in changes(sim) if r["object"] == "service:ClusSvc"]
    assert restarts == [("CLU1-B", "Stopped"), ("CLU1-A", "Stopped"), ("CLU1-A", "Running"), ("CLU1-B", "Running")]
    state = sim.state()["clusters"][0]
    assert [n["services"]["MSDTC"] for n in state["nodes"]] == ["Running", "Running"]
    role = next(g for g in state["groups"] if g["name"] == "ClusterDTC")
    resources = {r["name"]: r for r in role["resources"]}
    dtc = resources["MSDTC-ClusterDTC"]
    assert (role["state"], dtc["state"]) == ("Online", "Online")
    assert [resources[d]["type"] for d in dtc["depends_on"]] == ["Network Name", "Physical Disk"]
    assert resources["Cluster Disk 2"]["state"] == "Online" and state["disks"]["R:"]["owner"] == role["owner"], \
        "the log disk survived, with the role"
    assert dtc["log"].startswith("R:\\MSDTC\\") and dtc["log"] + "\\MSDTC.LOG" in state["disks"]["R:"]["files"]
    moves = [r["args"]["node"] for r in ops(sim) if r["op"] == "cluster.group.move" and r["outcome"] == "ok"]
    assert moves == ["CLU1-B", "CLU1-A"], "the failover test visits B and comes back"
    capsys.readouterr()

    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert "No changes" in capsys.readouterr().out
    before = len(changes(sim))
    assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 0
    assert len(changes(sim)) == before, "a second apply changes nothing"


def test_healthy_plans_nothing_even_with_real_msdtc_settings_and_facts_show_the_real_version(cli_sim, capsys):
    """A real node's keys hold settings (no version), and its MSDTC may be stopped: neither is the symptom."""
    sim, inventory = cli_sim("healthy", auth="ntlm")
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    for node in ("CLU1-A", "CLU1-B"):
        for path, name, data in ((r"HKLM\Software\Microsoft\MSDTC", "TurnOffRpcSecurity", 1),
                                 (r"HKLM\Software\Microsoft\MSDTC", "AllowOnlySecureRpcCalls", 0),
                                 (r"HKLM\Software\Microsoft\MSDTC\Security", "NetworkDtcAccess", 1),
                                 (r"HKLM\Software\Microsoft\MSDTC\Security", "NetworkDtcAccessInbound", 1),
                                 (r"HKLM\SYSTEM\CurrentControlSet\Services\MSDTC", "DelayedAutostart", 0)):
            sim.drift({"action": "registry.set", "node": node, "path": path, "name": name, "data": data,
                       "type": "REG_DWORD"})
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    for node in ("CLU1-A", "CLU1-B"):  # MSDTC starts on demand: Stopped is normal on a healthy node
        sim.drift({"action": "service.set", "node": node, "name": "MSDTC", "status": "Stopped"})
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert main(["plan", AUDIT, "-i", inventory]) == 0
    capsys.readouterr()
    assert main(["facts", "-i", inventory]) == 0
    facts = json.loads(capsys.readouterr().out)["facts"]
    assert {f["dtc"]["version"] for f in facts.values()} == {"2001.12.10941.16384"}
    assert {r["op"] for r in ops(sim)} == {"facts"}, "nothing but reads"


def test_healthy_plan_is_one_facts_call_per_node_and_nothing_else(cli_sim, capsys):
    sim, inventory = cli_sim("healthy", auth="basic-https")
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert [(r["node"], r["op"]) for r in ops(sim)] in ([("CLU1-A", "facts"), ("CLU1-B", "facts")],
                                                        [("CLU1-B", "facts"), ("CLU1-A", "facts")])
    assert not changes(sim)


def test_a_converged_plan_over_ntlm_is_the_protocol_s_floor_of_seven_requests_per_node(cli_sim):
    """Negotiate, Authenticate, Create, Command, Send, Receive, Delete: nothing more, and no shell left open."""
    sim, inventory = cli_sim("healthy", auth="ntlm")
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert dict(sim.server.requests) == {"CLU1-A": 7, "CLU1-B": 7}
    assert [ep.shells.open_shells() for ep in sim.endpoints] == [0, 0]


def test_a_sealed_answer_that_closes_the_connection_is_read_and_the_next_request_authenticates_again(cli_sim):
    """HTTP.sys may end a keep-alive connection with any answer: the answer is unsealed with the context it was
    sealed under, and the next request opens a connection and runs the NTLM handshake again (2 requests)."""
    sim, inventory = cli_sim("healthy", auth="ntlm")
    sim.add_fault("node=CLU1-A,on=any,kind=close,count=3")  # the answers to Create, Command and Send
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert dict(sim.server.requests) == {"CLU1-A": 7 + 3 * 2, "CLU1-B": 7}
    assert [ep.shells.open_shells() for ep in sim.endpoints] == [0, 0]


def test_sql_installed_refuses_with_kb_step_8_and_changes_nothing(cli_sim, capsys):
    sim, inventory = cli_sim("sql-installed", auth="ntlm")
    assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 1
    out = capsys.readouterr().out
    assert "KB Q252641 step 8" in out and "SQL Server is installed on CLU1-A, CLU1-B" in out
    assert not changes(sim)
    assert {r["op"] for r in ops(sim)} == {"facts", "lease.acquire", "lease.release"}


def test_no_witness_refuses_the_repair_before_its_first_change_naming_the_witness(cli_sim, capsys):
    """Preflight: the repair's ordered restart would stop both nodes of a cluster that has no witness."""
    sim, inventory = cli_sim("kb252641-no-witness")
    assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 1
    out = capsys.readouterr().out
    assert "CLU1 has no quorum witness" in out and "Set-ClusterQuorum" in out
    assert not changes(sim), "nothing was changed, not even the steps before the restart"


def test_a_paused_node_makes_the_repair_plan_nothing_and_say_why(cli_sim, capsys):
    """An operator paused B: the repair's ordered restart would fight them, so nothing is planned or done."""
    sim, inventory = cli_sim("paused-node")
    assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 1
    out = capsys.readouterr().out
    assert "CLU1-B is Paused" in out
    assert not changes(sim)


def test_two_healthy_dtc_roles_are_left_alone(cli_sim, capsys):
    sim, inventory = cli_sim("two-dtc-roles")
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert main(["plan", AUDIT, "-i", inventory]) == 0


def test_sql_installed_goes_ahead_when_the_operator_allows_it(cli_sim, capsys):
    sim, inventory = cli_sim("sql-installed", auth="basic-http")
    assert main(["plan", REPAIR, "-i", inventory, "-e", "allow_sql_server=true", "--detailed-exitcode"]) == 2


def test_three_nodes_restart_stops_c_b_a_and_starts_a_b_c(cli_sim, capsys):
    sim, inventory = cli_sim("healthy", nodes=3, auth="basic-http")
    assert main(["apply", RESTART, "-i", inventory, "--yes"]) == 0
    restarts = [(r["node"][-1], r["to"]) for r in changes(sim) if r["object"] == "service:ClusSvc"]
    assert restarts == [("C", "Stopped"), ("B", "Stopped"), ("A", "Stopped"),
                        ("A", "Running"), ("B", "Running"), ("C", "Running")]
    assert not started_out_of_turn(sim.state()["clusters"][0])


def test_audit_names_the_drift_and_changes_nothing(cli_sim, capsys):
    sim, inventory = cli_sim("kb252641-broken", auth="basic-http")
    assert main(["plan", AUDIT, "-i", inventory]) == 1
    out = capsys.readouterr().out
    assert "the DTC resource of ClusterDTC is not Online" in out
    assert "MSDTC terminated with 3221229574 (event 7024) since the node last started on CLU1-A, CLU1-B" in out
    assert not changes(sim)


def test_drift_introduced_between_runs_is_found_and_only_it_is_corrected(cli_sim, capsys):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    sim.drift({"action": "group.set", "cluster": "CLU1", "name": "ClusterDTC", "state": "Offline"})
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode", "--format", "json"]) == 2
    plan = json.loads(capsys.readouterr().out)
    assert [(c["type"], c["before"]["state"], c["after"]["state"]) for c in plan["clusters"][0]["changes"]] == [
        ("cluster_group", "Offline", "Online")]
    assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 0
    assert sim.cluster("CLU1").group("ClusterDTC").state == "Online"
