"""The contract audit bites: a simulator answer or an engine request outside the catalogue fails the op."""

from __future__ import annotations

import pytest

from enforcer.simulator.audit import AUDIT
from enforcer.simulator.ops import OPS
from enforcer.transport import AgentOp
from simclient import transport


def _drain() -> list[str]:
    """The violations so far, taken so that the audit fixture does not fail this test for them."""
    found, AUDIT.violations[:] = list(AUDIT.violations), []
    return found


@pytest.mark.parametrize("break_answer, problem", [
    (lambda data: {**data, "exists": "yes"}, "$.exists: 'yes' is not of type 'boolean'"),
    (lambda data: {k: v for k, v in data.items() if k != "status"}, "'status' is a required property"),
])
@pytest.mark.sim(scenario="healthy", auth="basic-http")
def test_an_answer_of_the_wrong_shape_fails_the_op(sim, monkeypatch, break_answer, problem):
    right = OPS["service.get"]
    monkeypatch.setitem(OPS, "service.get", lambda ctx, args: break_answer(right(ctx, args)))
    result = transport(sim, "CLU1-A").call([AgentOp("service.get", {"name": "MSDTC"})])[0]
    assert (result.ok, result.error_kind) == (False, "failed")
    assert result.error_message.startswith("contract violation: service.get answer: ")
    assert problem in result.error_message
    assert _drain() == [result.error_message]


@pytest.mark.sim(scenario="healthy", auth="basic-http")
def test_an_error_of_an_unknown_kind_fails_the_op(sim, monkeypatch):
    from enforcer.simulator.entities import SimError

    def broken(ctx, args):
        raise SimError("gone", "no such thing")

    monkeypatch.setitem(OPS, "dtc.get", broken)
    result = transport(sim, "CLU1-A").call([AgentOp("dtc.get")])[0]
    assert (result.ok, result.error_kind) == (False, "failed")
    assert "contract violation: dtc.get error: $.kind: 'gone' is not one of" in result.error_message
    assert len(_drain()) == 1


@pytest.mark.sim(scenario="healthy", auth="basic-http")
def test_a_request_outside_the_catalogue_is_refused_before_it_runs(sim):
    result = transport(sim, "CLU1-A").call([AgentOp("service.stop", {"name": "MSDTC", "timeout": 5})])[0]
    assert (result.ok, result.error_kind) == (False, "failed")
    assert "contract violation: service.stop request: $: Additional properties are not allowed" in result.error_message
    assert sim.cluster("CLU1").node("CLU1-A").service("MSDTC").status == "Running"
    assert len(_drain()) == 1


# One successful call of every op, so that the audit holds each op's answer to
# its schema, including ops no other test runs in-process (registry.set, dtc.uninstall).
EVERY_OP = [
    ("CLU1-A", "facts", {"registry": ["HKLM\\Software\\Microsoft\\MSDTC"],
                         "paths": ["C:\\Windows\\Logs", "R:\\MSDTC"],
                         "services": ["MSDTC", "NoSuchService"], "events": {"ids": [7024]}}),
    ("CLU1-B", "facts", {"paths": ["R:\\MSDTC"]}),
    ("CLU1-A", "registry.set", {"path": "HKLM\\Software\\Enforcer", "values": {
        "S": {"data": "x"}, "D": {"type": "REG_DWORD", "data": 1}, "M": {"type": "REG_MULTI_SZ", "data": ["a"]}}}),
    ("CLU1-A", "registry.get", {"path": "HKLM\\Software\\Enforcer"}),
    ("CLU1-A", "registry.export", {"path": "HKLM\\Software\\Enforcer", "dest": "C:\\backup\\enforcer.reg"}),
    ("CLU1-A", "registry.remove", {"path": "HKLM\\Software\\Enforcer"}),
    ("CLU1-A", "registry.import", {"file": "C:\\backup\\enforcer.reg"}),
    ("CLU1-A", "path.get", {"path": "C:\\Windows\\Logs\\CBS"}),
    ("CLU1-A", "path.archive", {"path": "C:\\Windows\\Logs\\CBS", "dest": "C:\\backup\\cbs.zip"}),
    ("CLU1-A", "path.remove", {"path": "C:\\Windows\\Logs\\CBS"}),
    ("CLU1-A", "path.restore", {"archive": "C:\\backup\\cbs.zip", "dest": "C:\\Windows\\Logs"}),
    ("CLU1-A", "service.get", {"name": "MSDTC"}),
    ("CLU1-A", "service.stop", {"name": "MSDTC"}),
    ("CLU1-A", "dtc.get", {}),
    ("CLU1-A", "node.info", {}),
    ("CLU1-A", "dtc.uninstall", {}),
    ("CLU1-A", "dtc.install", {}),
    ("CLU1-A", "dtc.reset_log", {"dtc_name": "MSDTC-ClusterDTC", "backup_to": "C:\\backup\\dtclog.zip"}),
    ("CLU1-B", "dtc.reset_log", {}),
    ("CLU1-A", "service.start", {"name": "MSDTC"}),
    ("CLU1-A", "sql.get", {}),
    ("CLU1-A", "events.query", {"ids": [7024], "max": 5}),
    ("CLU1-A", "cluster.nodes", {}),
    ("CLU1-A", "cluster.groups", {}),
    ("CLU1-A", "cluster.networks", {}),
    ("CLU1-A", "cluster.resource.set_dependencies",
     {"name": "MSDTC-ClusterDTC", "depends_on": ["ClusterDTC", "Cluster Disk 2", "IP Address 10.0.0.20"]}),
    ("CLU1-A", "cluster.resource.remove", {"name": "MSDTC-ClusterDTC"}),
    ("CLU1-A", "cluster.resource.add", {"name": "MSDTC-ClusterDTC", "type": "Distributed Transaction Coordinator",
                                        "group": "ClusterDTC", "depends_on": ["ClusterDTC", "Cluster Disk 2"]}),
    ("CLU1-A", "cluster.group.offline", {"name": "ClusterDTC"}),
    ("CLU1-A", "cluster.group.online", {"name": "ClusterDTC"}),
    ("CLU1-A", "cluster.group.move", {"name": "ClusterDTC", "node": "CLU1-B"}),
    ("CLU1-A", "cluster.group.create_dtc", {"ip_address": "10.0.0.50", "disk": "Cluster Disk 3"}),
    ("CLU1-A", "cluster.group.remove", {"name": "MSDTC-CLU1"}),
    ("CLU1-B", "cluster.node.suspend", {"name": "CLU1-A", "mode": "drain"}),
    ("CLU1-B", "cluster.node.resume", {"name": "CLU1-A", "failback": "Immediate"}),
    ("CLU1-B", "cluster.service.stop", {}),
    ("CLU1-B", "cluster.service.start", {}),
    ("CLU1-A", "lease.acquire", {"run_id": "r1", "holder": {"run_id": "r1", "user": "ops"}, "ttl_s": 60}),
    ("CLU1-A", "lease.renew", {"run_id": "r1", "step": "a step"}),
    ("CLU1-A", "lease.release", {"run_id": "r1"}),
    ("CLU1-B", "lease.release", {"force": True}),
]


@pytest.mark.sim(scenario="healthy", auth="basic-http")
def test_every_op_answers_in_the_shape_of_its_schema(sim):
    from enforcer.protocol.agent import catalogue

    assert {op for _, op, _ in EVERY_OP} == set(catalogue()["ops"])
    nodes = {name: transport(sim, name) for name in ("CLU1-A", "CLU1-B")}
    for node, op, args in EVERY_OP:
        result = nodes[node].call([AgentOp(op, args)])[0]
        assert result.ok, f"{op} on {node}: {result.error_kind}: {result.error_message}"
