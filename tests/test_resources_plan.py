"""Each task type's pure plan(): facts in, changes (or a no-op reason, or an error) out.

One data file per case under tests/data/plan/ (pyinfra's habit): the task,
the facts that differ from a healthy two-node cluster, and what must come out.
Only the keys a case names are compared.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from enforcer import ordering
from enforcer.resources import RESOURCES, PlanContext, PlanError, State
from enforcer.templating import Scope, evaluate

DATA = Path(__file__).parent / "data" / "plan"
BASE = yaml.safe_load((DATA / "_base_facts.yml").read_text())
NODES = ["CLU1-A", "CLU1-B"]


def _merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    return over


def _facts(case: dict) -> dict[str, dict]:
    override = case.get("facts", {})
    cluster = _merge(BASE["cluster"], override.get("cluster", {}))
    return {n: _merge({**copy.deepcopy(BASE["node"]), "cluster": cluster}, override.get(n, {})) for n in NODES}


def _run(case: dict):
    (kind, raw), = case["task"].items()
    resource = RESOURCES[kind]
    args = {k: (raw[k] if k in raw else spec.default) for k, spec in resource.args.items()}
    ctx = PlanContext(f"{kind} task", "CLU1", "RUN", State("CLU1", NODES, _facts(case)),
                      lambda expression: evaluate(expression, Scope({}), "case"))
    return resource.plan(ctx, args, case["node"])


@pytest.mark.parametrize("path", sorted(DATA.glob("*.*.yml")), ids=lambda p: p.stem)
def test_plan_case(path):
    case = yaml.safe_load(path.read_text())
    if "error" in case:
        with pytest.raises(PlanError, match=case["error"].replace("\\", "\\\\").replace("(", r"\(")):
            _run(case)
        return
    planned = _run(case)
    if "noop" in case:
        assert planned == case["noop"]
        return
    assert isinstance(planned, list), f"expected changes, got no-op: {planned}"
    assert len(planned) == len(case["changes"])
    for change, expected in zip(planned, case["changes"], strict=True):
        seen = {**change.to_json(), "via": change.via}
        assert {k: seen[k] for k in expected} == expected


def test_planning_predicts_state_for_later_tasks():
    """Removing a resource, then asking for it present, plans its creation (the KB's steps 1 and 6)."""
    case = yaml.safe_load((DATA / "cluster_resource.absent.dtc.yml").read_text())
    state = State("CLU1", NODES, _facts(case))
    ctx = PlanContext("t", "CLU1", "RUN", state, lambda e: True)
    resource = RESOURCES["cluster_resource"]
    defaults = {k: s.default for k, s in resource.args.items()}
    removed = resource.plan(ctx, {**defaults, "name": "MSDTC-ClusterDTC", "state": "absent"}, None)
    assert state.groups["ClusterDTC"]["state"] == "Online", "the rest of the role is Online"
    again = resource.plan(ctx, {**defaults, "name": "MSDTC-ClusterDTC", "group": "ClusterDTC",
                                "type": "Distributed Transaction Coordinator",
                                "depends_on": ["ClusterDTC", "Cluster Disk 2"]}, None)
    assert removed[0].actions == ["delete"] and again[0].actions == ["create"]
    assert again[0].params["ops"][0][0] == "cluster.resource.add"
    assert state.groups["ClusterDTC"]["state"] == "PartialOnline", "an Offline DTC: the role must be brought online"


@pytest.mark.parametrize("nodes,expected", [
    (["A", "B"], "stop B, stop A, start A, start B"),
    (["A", "B", "C"], "stop C, stop B, stop A, start A, start B, start C"),
    (["A"], "stop A, start A"),
])
def test_restart_sequence(nodes, expected):
    assert ordering.describe(ordering.restart_sequence(nodes)) == expected


@pytest.mark.parametrize("done,expected", [
    ([], []),
    ([("stop", "B")], [("start", "B")]),  # failed stopping A: bring B back
    ([("stop", "C"), ("stop", "B"), ("stop", "A")], [("start", "A"), ("start", "B"), ("start", "C")]),
    ([("stop", "B"), ("stop", "A"), ("start", "A")], [("start", "B")]),  # failed starting B: retry B
])
def test_recovery_starts_what_this_run_stopped_last_stopped_first(done, expected):
    assert ordering.recovery_sequence(done) == expected


def test_failover_tour_visits_every_other_node_then_returns():
    assert ordering.failover_tour(["A", "B", "C"], "B") == ["A", "C", "B"]


def test_the_facts_call_asks_for_every_kind_the_tasks_read_and_no_other(tmp_path):
    """Fact kinds come from the resources: each node is asked for the names its tasks read, plus gather_facts."""
    from enforcer.model import Cluster, ConnectionSpec, Node
    from enforcer.planner import Selection, fact_requests
    from enforcer.playbook import load_playbook
    from enforcer.resources import FACT_KINDS

    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- name: reads
  hosts: all
  gather_facts: {paths: ['C:\\extra']}
  tasks:
    - name: key
      registry_key: {path: 'HKLM\\Software\\X', state: absent}
    - name: svc
      service: {name: Spooler, state: running}
""")
    nodes = [Node(n, "CLU1", ConnectionSpec(host=n)) for n in NODES]
    requests = fact_requests(load_playbook(playbook).plays, Cluster("CLU1", "clu1", nodes), Selection())
    assert set(FACT_KINDS) == {k.name for r in RESOURCES.values() for k in r.reads} == {"registry", "paths",
                                                                                          "services"}
    assert requests["CLU1-A"] == {"registry": ["HKLM\\Software\\X"], "paths": ["C:\\extra"],
                                  "services": ["ClusSvc", "MSDTC", "Spooler"]}
