"""Faults aimed at ops, services and groups, seen through enforcer's WinRM transport."""

from __future__ import annotations

import pytest

from enforcer.errors import NodeUnreachable, OpFailed, TransportError, TransportTimeout, WSManError
from enforcer.transport import AgentOp
from simclient import transport


@pytest.mark.parametrize("kind,error", [
    ("http500", TransportError), ("wsman", WSManError), ("refuse", NodeUnreachable), ("hang", TransportTimeout)])
@pytest.mark.sim(scenario="healthy", auth="ntlm")
def test_a_transport_fault_on_an_op_loses_the_answer_after_earlier_ops_ran(sim, kind, error):
    sim.add_fault(f"node=CLU1-A,on=service.stop,kind={kind},count=1")
    t = transport(sim, "CLU1-A")
    with pytest.raises(error):
        t.call([AgentOp("registry.remove", {"path": "HKLM\\Software\\Microsoft\\MSDTC\\Security"}),
                AgentOp("service.stop", {"name": "MSDTC"})], timeout_s=0.5)
    t.close()
    ops = [(r["op"], r["outcome"]) for r in sim.journal.records("op") if r["node"] == "CLU1-A"]
    assert ops == [("registry.remove", "ok"), ("service.stop", f"error: injected {kind} fault")]
    assert sim.state()["clusters"][0]["nodes"][0]["services"]["MSDTC"] == "Running"
    with transport(sim, "CLU1-A") as again:  # the fault was counted once: the node answers again
        assert again.call([AgentOp("service.stop", {"name": "MSDTC"})])[0].ok


@pytest.mark.sim(scenario="healthy", auth="basic-http")
def test_fail_and_slow_faults_change_outcomes_not_the_wire(sim):
    sim.add_fault("node=CLU1-B,on=service:ClusSvc:stop,kind=fail,count=1")
    sim.add_fault("node=*,on=group:ClusterDTC:online,kind=fail")
    sim.add_fault("node=CLU1-A,on=dtc.get,kind=slow,ms=30")
    b, a = transport(sim, "CLU1-B"), transport(sim, "CLU1-A")
    with pytest.raises(OpFailed) as failure:
        b.call([AgentOp("cluster.service.stop")])[0].unwrap("CLU1-B")
    assert failure.value.kind == "failed"
    assert sim.cluster("CLU1").node("CLU1-B").state == "Up"
    assert b.call([AgentOp("cluster.service.stop")])[0].ok  # the fault had count=1

    a.call([AgentOp("cluster.group.offline", {"name": "ClusterDTC"})])
    result = a.call([AgentOp("cluster.group.online", {"name": "ClusterDTC"})])[0]
    assert (result.ok, result.error_kind) == (False, "failed")
    assert a.call([AgentOp("dtc.get")])[0].data["version"] == "2001.12.10941.16384"


@pytest.mark.contract_violations_expected
@pytest.mark.sim(scenario="healthy", auth="basic-http")
def test_unknown_ops_and_bad_args_answer_catalogue_error_kinds(sim):
    results = transport(sim, "CLU1-A").call([
        AgentOp("registry.frobnicate"), AgentOp("registry.get", {}), AgentOp("cluster.group.move",
                                                                            {"name": "ClusterDTC", "node": "NOPE"})])
    assert [(r.ok, r.error_kind) for r in results] == [(False, "unknown_op"), (False, "invalid_args"),
                                                       (False, "not_found")]


@pytest.mark.sim(scenario="healthy", auth="basic-http")
def test_stop_on_error_skips_the_rest(sim):
    results = transport(sim, "CLU1-A").call([
        AgentOp("service.start", {"name": "NoSuchService"}), AgentOp("service.stop", {"name": "MSDTC"})],
        stop_on_error=True)
    assert [r.ok for r in results] == [False, False]
    assert results[1].error_message == "skipped: an earlier op failed"
    assert sim.cluster("CLU1").node("CLU1-A").service("MSDTC").status == "Running"
