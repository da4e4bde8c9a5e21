"""The in-process transport: the WinRM transport's errors for each fault, its retries of reads, no real waiting.

tests/test_sim_faults.py proves what the WinRM transport raises for each fault over the wire; these
prove the in-process one raises the same, so the component tier's fault tests mean what they would
over WinRM.
"""

from __future__ import annotations

import functools
import logging
import time

import pytest

from enforcer.errors import NodeUnreachable, TransportError, TransportTimeout, WSManError
from enforcer.transport import AgentOp
from repair_cases import REPAIR

MSDTC_SECURITY = "HKLM\\Software\\Microsoft\\MSDTC\\Security"
LOST = [("refuse", NodeUnreachable, "cannot connect to http://127.1.1.1:5985/wsman (connection reset)"),
        ("http500", TransportError, "HTTP 500 from http://127.1.1.1:5985/wsman"),
        ("wsman", WSManError, "WinRM fault 2150858770: The WS-Management service cannot process the request."),
        ("hang", TransportTimeout, "the agent did not answer within 0.5 s")]
READ_RETRIES = [  # a read lost `count` times: retried twice at most, a connection refused never
    ("http500", 2, ["facts"] * 3, None),
    ("hang", 3, ["facts"] * 3, TransportTimeout),
    ("refuse", 1, ["facts"], NodeUnreachable),
]


@pytest.mark.parametrize("kind,error,message", LOST, ids=[kind for kind, _, _ in LOST])
def test_a_transport_fault_on_an_op_loses_the_answer_after_earlier_ops_ran(in_process_sim, kind, error, message):
    cluster = in_process_sim("healthy", f"node=CLU1-A,on=service.stop,kind={kind},count=1")
    with cluster.connections() as connections:
        started = time.monotonic()
        with pytest.raises(error) as lost:
            connections.get("CLU1-A").call([AgentOp("registry.remove", {"path": MSDTC_SECURITY}),
                                            AgentOp("service.stop", {"name": "MSDTC"})], timeout_s=0.5)
        assert time.monotonic() - started < 0.4, "nothing waits for the timeout to pass"
        assert type(lost.value) is error and lost.value.detail == message
        assert cluster.ops("CLU1-A") == [("registry.remove", "ok"), ("service.stop", f"error: injected {kind} fault")]
        assert cluster.sim.cluster("CLU1").node("CLU1-A").service("MSDTC").status == "Running"
        assert connections.get("CLU1-A").call([AgentOp("service.stop", {"name": "MSDTC"})])[0].ok, \
            "the fault was counted once: the node answers again"


@pytest.mark.parametrize("kind,count,attempts,error", READ_RETRIES, ids=[r[0] for r in READ_RETRIES])
def test_a_read_whose_answer_is_lost_is_sent_again(in_process_sim, kind, count, attempts, error):
    cluster = in_process_sim("healthy", f"node=CLU1-A,on=facts,kind={kind},count={count}")
    with cluster.connections() as connections:
        call = functools.partial(connections.get("CLU1-A").call, [AgentOp("facts")])
        if error is None:
            assert call()[0].ok
        else:
            pytest.raises(error, call)
    assert [op for op, _ in cluster.ops("CLU1-A")] == attempts


def test_a_change_whose_answer_is_lost_is_never_sent_again_by_the_transport(in_process_sim):
    cluster = in_process_sim("healthy", "node=CLU1-A,on=service.stop,kind=http500,count=1")
    with cluster.connections() as connections, pytest.raises(TransportError):
        connections.get("CLU1-A").call([AgentOp("service.stop", {"name": "MSDTC"})])
    assert cluster.ops("CLU1-A") == [("service.stop", "error: injected http500 fault")]


@pytest.mark.parametrize("fault", ["node=CLU1-A,on=facts,kind=http500,count=1",
                                   "node=CLU1-B,on=facts,kind=hang,count=1"])
def test_a_transient_fault_on_a_read_is_retried_and_the_plan_succeeds(in_process_sim, caplog, fault):
    cluster = in_process_sim("healthy", fault)
    with caplog.at_level(logging.INFO, logger="enforcer.ops"):
        plan = cluster.plan(REPAIR)
    assert not plan.changes and not plan.unreachable and not plan.failed
    assert any("retrying read-only facts" in r.getMessage() for r in caplog.records)
    assert not cluster.sim.faults.snapshot(), "the fault fired"
