"""KB Q252641 on the simulator, driven op by op through the agent protocol over WinRM.

The symptom is there at the start (an unreadable DTC log: 7024 with 3221229574, 4195
and 53313), the KB's steps in their modern form cure it, and skipping the log reset
or starting the stale node first does not: the model's causality is what makes
enforcer's ordering and steps matter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks import started_out_of_turn
from enforcer.errors import OpFailed
from enforcer.simulator import simulate
from enforcer.transport import AgentOp
from simclient import transport

DTC_KEYS = ("HKLM\\Software\\Microsoft\\MSDTC", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSDTC")


SCENARIOS = Path(__file__).parent / "data" / "scenarios"


def one(t, op: str, **args) -> dict:
    return t.call([AgentOp(op, args)])[0].unwrap(t.node)


DTC, ROLE, DTC_DISK = "MSDTC-ClusterDTC", "ClusterDTC", "Cluster Disk 2"


def repair(sim, skip: frozenset[str] = frozenset(), restart: tuple[str, ...] = ("B", "A", "A", "B")) -> dict:
    """The KB's steps, in their modern form, as agent ops; returns the transports for further checks."""
    a, b = transport(sim, "CLU1-A"), transport(sim, "CLU1-B")
    nodes = {"A": a, "B": b}
    if "log" not in skip:  # step 3: the log archived for forensics, then reset, through the disk's owner
        one(a, "dtc.reset_log", dtc_name=DTC, backup_to="C:\\enforcer\\backup\\dtc-log.zip")
    if "resource" not in skip:
        one(a, "cluster.resource.remove", name=DTC)  # step 1: the DTC only; the role keeps its disk
    for t in (a, b):
        if "register" not in skip:  # steps 2 and 4: msdtc -uninstall (keys exported first), msdtc -install
            results = t.call([op for key in DTC_KEYS for op in (
                AgentOp("registry.export",
                        {"path": key, "dest": f"C:\\enforcer\\backup\\{key.rsplit(chr(92), 1)[1]}.reg"}),)]
                + [AgentOp("dtc.uninstall"), AgentOp("dtc.install")], stop_on_error=True)
            assert all(r.ok for r in results)
    for step, letter in zip(("stop", "stop", "start", "start"), restart, strict=True):  # step 5
        one(nodes[letter], f"cluster.service.{step}", timeout_s=60)
    if "resource" not in skip:  # step 6: the DTC again, depending on its role's name and disk
        one(a, "cluster.resource.add", name=DTC, type="Distributed Transaction Coordinator", group=ROLE,
            depends_on=[ROLE, DTC_DISK])
    return nodes


def dtc_is_healthy(sim, nodes) -> bool:
    a, b = nodes["A"], nodes["B"]
    try:
        one(a, "cluster.group.online", name=ROLE)
        for t in (a, b):
            one(t, "service.start", name="MSDTC")
    except OpFailed:
        return False
    groups = {g["name"]: g for g in one(a, "cluster.groups")["groups"]}
    return groups[ROLE]["state"] == "Online"


def test_the_symptom_is_event_7024_and_a_failed_dtc_resource():
    with simulate("kb252641-broken", auth="ntlm") as sim:
        a = transport(sim, "CLU1-A")
        with pytest.raises(OpFailed) as failure:
            one(a, "cluster.group.online", name=ROLE)
        assert failure.value.kind == "failed" and f"{DTC} Failed (the DTC log R:\\MSDTC\\" in str(failure.value)
        events = one(a, "events.query", ids=[7024], source="Service Control Manager")["events"]
        assert events and "3221229574" in events[0]["message"]
        groups = {g["name"]: g for g in one(a, "cluster.groups")["groups"]}
        assert groups[ROLE]["state"] == "Failed"
        assert {r["name"]: r["state"] for r in groups[ROLE]["resources"]}[DTC] == "Failed"


def test_the_kb_steps_in_order_cure_it_and_failover_works():
    with simulate("kb252641-broken", auth="ntlm") as sim:
        nodes = repair(sim)
        assert dtc_is_healthy(sim, nodes)
        a = nodes["A"]
        for owner in ("CLU1-B", "CLU1-A"):  # step 6: fail the group over and back
            moved = one(a, "cluster.group.move", name=ROLE, node=owner)
            assert (moved["owner"], moved["state"]) == (owner, "Online")

        state = sim.state()["clusters"][0]
        role = next(g for g in state["groups"] if g["name"] == ROLE)
        assert {r["name"]: (r["type"], r["depends_on"]) for r in role["resources"]}[DTC] == (
            "Distributed Transaction Coordinator", [ROLE, DTC_DISK])
        new_log = next(r["log"] for r in role["resources"] if r["name"] == DTC)
        assert new_log.startswith("R:\\MSDTC\\") and state["disks"]["R:"]["owner"] == "CLU1-A", "the disk survived"
        assert len({p.split("\\")[2] for p in state["disks"]["R:"]["files"] if p.count("\\") >= 2}) == 2, \
            "the old DTC's folder stays beside the new one's"
        assert all(n["services"]["MSDTC"] == "Running" for n in state["nodes"])
        clussvc = [(r["node"], r["to"]) for r in sim.journal.records("change") if r["object"] == "service:ClusSvc"]
        assert clussvc == [("CLU1-B", "Stopped"), ("CLU1-A", "Stopped"), ("CLU1-A", "Running"),
                           ("CLU1-B", "Running")]


def test_without_a_new_log_msdtc_keeps_failing():
    """The log is the fault: unregistering and registering MSDTC again and restarting do not cure it; a new log,
    by a reset or by a DTC resource made anew, does."""
    with simulate("kb252641-broken", auth="basic-http") as sim:
        nodes = repair(sim, skip=frozenset({"log", "resource"}))
        assert not dtc_is_healthy(sim, nodes)
        events = [e["id"] for e in sim.state()["clusters"][0]["nodes"][0]["events"]]
        assert events[-3:] == [7024, 53313, 4195], "7024 with MSDTC's own events beside it"


def test_a_service_key_deleted_by_hand_breaks_msdtc_until_a_reboot():
    """KB step 2 done literally on a running system: the SCM keeps a service without its configuration."""
    with simulate("healthy", auth="basic-http") as sim:
        a = transport(sim, "CLU1-A")
        one(a, "service.stop", name="MSDTC")
        one(a, "registry.remove", path=DTC_KEYS[1])
        with pytest.raises(OpFailed, match="restart Windows"):
            one(a, "service.start", name="MSDTC")
        with pytest.raises(OpFailed, match="1072"):
            one(a, "dtc.install")


def test_starting_first_the_node_that_went_down_first_is_refused_with_a_file_share_witness():
    """Partition in time: B's configuration is older than A's, and a file share witness keeps no copy."""
    with simulate(str(SCENARIOS / "kb252641-file-share-witness.yml"), auth="basic-http") as sim:
        with pytest.raises(OpFailed) as refused:
            repair(sim, restart=("B", "A", "B", "A"))
        assert refused.value.kind == "failed" and "System event 1561" in str(refused.value)
        cluster = sim.state()["clusters"][0]
        assert [n["state"] for n in cluster["nodes"]] == ["Down", "Down"]
        assert started_out_of_turn(cluster) == ["CLU1-B"]
        assert {g["state"] for g in cluster["groups"]} == {"Offline"}, "no group comes up on an older configuration"


def test_with_a_disk_witness_the_node_that_went_down_first_takes_its_newest_copy():
    with simulate("kb252641-broken", auth="basic-http") as sim:
        nodes = repair(sim, restart=("B", "A", "B", "A"))
        assert dtc_is_healthy(sim, nodes)
        assert not started_out_of_turn(sim.state()["clusters"][0])


def test_a_role_s_disk_answers_only_through_its_owner():
    with simulate("two-dtc-roles", auth="basic-http") as sim:
        a, b = transport(sim, "CLU1-A"), transport(sim, "CLU1-B")
        with pytest.raises(OpFailed) as failure:
            one(b, "path.get", path="R:\\MSDTC")
        assert failure.value.kind == "unavailable"
        assert one(a, "path.get", path="R:\\MSDTC")["exists"]
        assert one(b, "path.get", path="T:\\MSDTC")["exists"], "SQLDTC's disk, on the node that owns its role"


def test_backups_restore_what_was_removed():
    with simulate("kb252641-broken", auth="basic-http") as sim:
        a = transport(sim, "CLU1-A")
        before = sim.state()["clusters"][0]
        one(a, "registry.export", path=DTC_KEYS[0], dest="C:\\backup\\msdtc.reg")
        one(a, "registry.remove", path=DTC_KEYS[0])
        one(a, "path.archive", path="S:\\", dest="C:\\backup\\s.zip")
        one(a, "path.archive", path="C:\\Windows\\Logs", dest="C:\\backup\\logs.zip")
        one(a, "path.remove", path="C:\\Windows\\Logs")
        assert not one(a, "registry.get", path=DTC_KEYS[0])["exists"]
        one(a, "registry.import", file="C:\\backup\\msdtc.reg")
        one(a, "path.restore", archive="C:\\backup\\logs.zip", dest="C:\\Windows")
        after = sim.state()["clusters"][0]
        assert after["nodes"][0]["registry"] == before["nodes"][0]["registry"]
        assert {p: d for p, d in after["nodes"][0]["fs"].items() if "Logs" in p} == \
            {p: d for p, d in before["nodes"][0]["fs"].items() if "Logs" in p}


def test_sql_server_is_detected():
    with simulate("sql-installed", auth="basic-http") as sim:
        sql = one(transport(sim, "CLU1-B"), "sql.get")
        assert sql["installed"] and sql["instances"][0]["service"] == "MSSQLSERVER"


def test_one_facts_call_answers_everything_a_plan_needs():
    with simulate("kb252641-broken", auth="ntlm") as sim:
        before = sim.server.requests["CLU1-A"]
        facts = one(transport(sim, "CLU1-A"), "facts", registry=list(DTC_KEYS), paths=["R:\\MSDTC"],
                    events={"ids": [7024]})
        assert facts["dtc"] == {"installed": True, "version": "2001.12.10941.16384",
                                "path": "C:\\Windows\\System32\\msdtc.exe"}
        assert all(facts["registry"][k]["exists"] for k in DTC_KEYS)
        assert facts["paths"]["R:\\MSDTC"]["exists"] and facts["cluster_module"]
        assert {g["name"]: g["state"] for g in facts["cluster"]["groups"]}[ROLE] == "Failed"
        assert [n["role"] for n in facts["cluster"]["networks"]] == ["cluster_and_client", "cluster"]
        assert [e["id"] for e in facts["events"]] == [7024]
        # NTLM: 3 handshake requests + Create + Command + Send + Receive + Signal
        assert sim.server.requests["CLU1-A"] - before <= 8
