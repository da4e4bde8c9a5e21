"""The renderers against a hand-built KB Q252641 plan and a run that failed half-way (tests/data/report)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from enforcer.model import Change, ClusterPlan, ClusterRun, Outcome, Plan, RunResult, StepResult
from enforcer.report import plan_json, plan_markdown, plan_text, recap, recap_text, run_json, run_markdown, step_line
from enforcer.report.format import compact

DATA = Path(__file__).parent / "data" / "report" / "kb252641.json"
BACKUP_A = "C:\\ProgramData\\enforcer\\backups\\r1\\CLU1-A-registry-HKLM_Software_Microsoft_MSDTC.reg"
RESTART = "restart sequence: stop CLU1-B, stop CLU1-A, start CLU1-A, start CLU1-B"


def build_plan(doc: dict[str, Any]) -> Plan:
    return Plan(doc["playbook"], doc["inventory"],
                [ClusterPlan(c["cluster"], c["nodes"], [Change(**ch) for ch in c["changes"]],
                             [Outcome(**o) for o in c["outcomes"]], c.get("error")) for c in doc["clusters"]],
                doc["unreachable"])


def build_run(doc: dict[str, Any], plan: Plan) -> RunResult:
    """Steps name their change by index into the cluster's planned changes, as the executor's steps do by object."""
    changes = {cp.cluster: cp.changes for cp in plan.clusters}
    clusters = [ClusterRun(c["cluster"], c["nodes"],
                           [StepResult(changes[c["cluster"]][s["change"]],
                                       **{k: v for k, v in s.items() if k != "change"}) for s in c.get("steps", [])],
                           c.get("error"), c.get("final_nodes", {}), c.get("backups", []), c.get("warnings", []))
                for c in doc["clusters"]]
    return RunResult(doc["run_id"], plan, clusters, doc["interrupted"])


@pytest.fixture
def plan() -> Plan:
    return build_plan(json.loads(DATA.read_text())["plan"])


@pytest.fixture
def run(plan: Plan) -> RunResult:
    return build_run(json.loads(DATA.read_text())["run"], plan)


def no_change_plan() -> Plan:
    return Plan("site.yml", "inv.yml", [ClusterPlan("CLU1", ["CLU1-A", "CLU1-B"],
                                                    outcomes=[Outcome("t", "CLU1-A", "ok", "HKLM\\X is absent")])])


# -- JSON ----------------------------------------------------------------------------
def test_plan_json_shape_and_summary(plan: Plan) -> None:
    doc = plan_json(plan)
    assert list(doc) == ["format_version", "playbook", "inventory", "clusters", "unreachable", "locked", "audit",
                         "summary"]
    assert doc["format_version"] == "1.0" and doc["playbook"] == "playbooks/kb252641.yml"
    assert [list(c) for c in doc["clusters"]] == [["name", "nodes", "changes", "error", "outcomes"]] * 2
    clu1, clu2 = doc["clusters"]
    assert [(c["task"], c["type"], c["node"]) for c in clu1["changes"]] == [
        ("Delete stale MSDTC registry keys", "registry_key", "CLU1-A"),
        ("Delete stale MSDTC registry keys", "registry_key", "CLU1-B"),
        ("Remove the MSDTC group", "cluster_group", None),
        ("Restart the cluster service in order", "cluster_restart", None)]
    for change in clu1["changes"]:
        assert {"task", "type", "node", "actions", "before", "after", "destructive", "reason"} <= set(change)
    assert clu1["changes"][0]["backups"] == [BACKUP_A] and clu1["changes"][0]["after"] == {"exists": False}
    assert clu1["outcomes"][1] == {"task": "Install MSDTC", "node": "CLU1-B", "status": "skipped",
                                   "reason": "when: dtc_needed is false"}
    assert clu1["error"] is None and clu2["error"].endswith("CLU2-B is unknown") and clu2["changes"] == []
    assert doc["unreachable"] == {"CLU2-B": "WinRM connection refused"}
    assert doc["summary"] == {"changes": 4, "destructive": 3, "disruptive": 0, "backups": 2, "clusters": 2,
                              "clusters_with_changes": 1, "failed_clusters": 1, "locked_clusters": 0, "ok": 2,
                              "skipped": 1}
    assert json.loads(json.dumps(doc)) == doc


def test_run_json_steps(run: RunResult) -> None:
    doc = run_json(run)
    assert list(doc) == ["format_version", "run_id", "playbook", "inventory", "interrupted", "clusters", "audit",
                         "recap"]
    clu1, clu2 = doc["clusters"]
    assert list(clu1) == ["name", "nodes", "error", "final_nodes", "backups", "warnings", "steps"]
    assert list(clu1["steps"][0]) == ["task", "type", "node", "via", "actions", "status", "message", "duration_s",
                                      "started_at",
                                      "before", "after", "data"]
    assert [s["status"] for s in clu1["steps"]] == ["changed", "changed", "failed", "skipped"]
    assert clu1["steps"][0]["duration_s"] == 0.21 and clu1["steps"][0]["data"]["backup"]["bytes"] == 812
    assert clu1["steps"][2]["via"] == "CLU1-B" and clu1["steps"][2]["node"] is None
    assert clu2["steps"] == [] and clu2["error"].endswith("CLU2-B is unknown")
    assert doc["recap"] == recap(run)
    assert json.loads(json.dumps(doc)) == doc


def test_recap_counts_steps_on_their_node_and_outcomes_on_the_first(run: RunResult) -> None:
    assert recap(run) == {
        "CLU1-A": {"ok": 1, "changed": 1, "failed": 0, "skipped": 1},  # ok: the cluster-wide assert; skip: restart
        "CLU1-B": {"ok": 0, "changed": 1, "failed": 1, "skipped": 1},  # failed: the group removal via CLU1-B
        "CLU2-A": {"ok": 1, "changed": 0, "failed": 0, "skipped": 0},
        "CLU2-B": {"ok": 0, "changed": 0, "failed": 0, "skipped": 0},
    }


# -- text ------------------------------------------------------------------------------
def test_plan_text(plan: Plan) -> None:
    text = plan_text(plan)
    lines = text.splitlines()
    assert lines[0] == "Plan for playbooks/kb252641.yml on inventory/prod.yml"
    assert "cluster CLU1 (nodes in order: CLU1-A, CLU1-B)" in lines
    assert [line.strip() for line in lines if line.startswith("  ") and not line.startswith("    ")][:3] == [
        "Delete stale MSDTC registry keys", "Remove the MSDTC group", "Restart the cluster service in order"]
    reg_a = next(line for line in lines if "[CLU1-A] registry_key" in line)
    assert reg_a.split()[0] == "-"
    assert reg_a.endswith(f"-> absent (destructive; backup: {BACKUP_A}) # HKLM\\Software\\Microsoft\\MSDTC exists")
    group = next(line for line in lines if "cluster_group" in line)
    assert "[cluster via CLU1-B]" in group and "(destructive; no backup)" in group
    assert "state=Online, owner=CLU1-B, resources=[MSDTC, MSDTC-IP] -> absent" in group
    restart = next(i for i, line in enumerate(lines) if "cluster_restart" in line)
    assert re.match(r" +↻ +\[cluster via CLU1-A\] cluster_restart ", lines[restart])
    assert lines[restart + 1].strip() == RESTART
    assert "  ERROR: playbooks/kb252641.yml:14: task 'Restart the cluster service in order': CLU2-B is unknown" in lines
    assert lines[lines.index("UNREACHABLE") + 1] == "  CLU2-B: WinRM connection refused"
    assert lines[-1] == ("Plan: 4 to change (3 destructive, 0 disruptive, 2 backups) on 1 cluster(s); 2 ok, 1 skipped. "
                         "1 cluster(s) failed to plan; 1 node(s) unreachable.")
    assert "skip [CLU1-B]" not in text


def test_plan_text_verbose_lists_outcomes_and_whole_values(plan: Plan) -> None:
    long_value = {"values": {f"Value{i}": "x" * 10 for i in range(10)}}
    plan.clusters[0].changes[0].before = long_value
    assert compact(long_value) not in plan_text(plan)
    verbose = plan_text(plan, verbosity=1)
    assert compact(long_value) in verbose
    assert "  ok   [cluster] SQL Server is not installed: all assertions passed" in verbose.splitlines()
    assert "  skip [CLU1-B] Install MSDTC: when: dtc_needed is false" in verbose.splitlines()


def test_plan_text_failover_tour() -> None:
    change = Change("Fail MSDTC over", "failover_test", "CLU1", None, "CLU1-A", ["test"], {"owner": "CLU1-A"},
                    {"visits": ["CLU1-B", "CLU1-A"], "owner": "CLU1-A"}, "fail MSDTC over to CLU1-B and back",
                    params={"tour": ["CLU1-B", "CLU1-A"]})
    lines = plan_text(Plan("p", "i", [ClusterPlan("CLU1", ["CLU1-A", "CLU1-B"], [change])])).splitlines()
    at = next(i for i, line in enumerate(lines) if "failover_test" in line)
    assert re.match(r" +⇄ +\[cluster via CLU1-A\] failover_test owner=CLU1-A -> visits=\[CLU1-B, CLU1-A\]", lines[at])
    assert lines[at + 1].strip() == "tour: CLU1-B, CLU1-A"


def test_no_change_text() -> None:
    text = plan_text(no_change_plan())
    assert text.splitlines()[-1] == "No changes. The cluster(s) match the playbook."
    assert "Plan:" not in text and "  no changes" in text.splitlines()
    assert plan_json(no_change_plan())["summary"]["changes"] == 0


def test_recap_text(run: RunResult) -> None:
    lines = recap_text(run).splitlines()
    assert lines[:5] == ["RECAP",
                         "CLU1-A  ok=1 changed=1 failed=0 skipped=1",
                         "CLU1-B  ok=0 changed=1 failed=1 skipped=1",
                         "CLU2-A  ok=1 changed=0 failed=0 skipped=0",
                         "CLU2-B  ok=0 changed=0 failed=0 skipped=0"]
    assert "UNREACHABLE CLU2-B: WinRM connection refused" in lines
    clu1 = lines.index("cluster CLU1")
    assert lines[clu1 + 1:clu1 + 5] == [
        "  ERROR: task 'Remove the MSDTC group' failed: CLU1-B: group MSDTC still exists after removal",
        "  final node states: CLU1-A Up, CLU1-B Up",
        f"  backup: CLU1-A registry HKLM\\Software\\Microsoft\\MSDTC -> {BACKUP_A}",
        "  WARNING: CLU1-A: a reboot is required to finish 'Install MSDTC'"]


def test_recap_text_aligns_columns(run: RunResult) -> None:
    run.clusters[0].nodes = ["CLU1-LONGNAME", "CLU1-B"]
    run.clusters[0].steps[0].change.node = "CLU1-LONGNAME"
    run.clusters[0].steps += [StepResult(run.clusters[0].steps[1].change, "changed")] * 9
    lines = recap_text(run).splitlines()
    assert lines[1] == "CLU1-LONGNAME  ok=1 changed=1  failed=0 skipped=0"
    assert lines[2] == "CLU1-B         ok=0 changed=10 failed=1 skipped=1"


def test_step_line(run: RunResult) -> None:
    steps = run.clusters[0].steps
    assert step_line(steps[0]) == "changed [CLU1-A] Delete stale MSDTC registry keys (registry_key) 0.21s"
    assert step_line(steps[2]) == ("FAILED  [cluster via CLU1-B] Remove the MSDTC group (cluster_group) 1.50s: "
                                   "CLU1-B: group MSDTC still exists after removal")
    assert step_line(steps[3]) == ("skipped [cluster via CLU1-A] Restart the cluster service in order "
                                   "(cluster_restart): not reached")


# -- Markdown ----------------------------------------------------------------------------
def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_plan_markdown(plan: Plan) -> None:
    md = plan_markdown(plan)
    lines = md.splitlines()
    header = "| # | Task | Node | Target | Action | Before | After | Destructive | Disruptive | Backup |"
    assert header in lines
    rows = lines[lines.index(header) + 2:lines.index(header) + 6]
    assert [r.split(" | ")[0] for r in rows] == ["| 1", "| 2", "| 3", "| 4"]
    assert all(_unescaped_pipes(r) == _unescaped_pipes(header) for r in rows)
    assert "a\\|b" in rows[0] and f"`{BACKUP_A}`" in rows[0] and "**yes**" in rows[0]
    assert "1. stop CLU1-B\n2. stop CLU1-A\n3. start CLU1-A\n4. start CLU1-B" in md
    assert "**Error:** playbooks/kb252641.yml:14: task 'Restart the cluster service in order': CLU2-B is unknown" in md
    assert "### Unreachable nodes\n\n- CLU2-B: WinRM connection refused" in md
    assert "| failed clusters | 1 |" in lines


def test_run_markdown(run: RunResult) -> None:
    md = run_markdown(run)
    lines = md.splitlines()
    assert lines[0] == "# Run r1: playbooks/kb252641.yml on inventory/prod.yml"
    assert "| CLU1-B | 0 | 1 | 1 | 1 |" in lines
    failed = next(line for line in lines if "| failed | 1.50s |" in line)
    assert failed.startswith("| 3 | Remove the MSDTC group | cluster via CLU1-B | delete |")
    assert ("| 4 | Restart the cluster service in order | cluster via CLU1-A | restart | skipped |  | not reached |"
            in lines)
    assert "Final node states: CLU1-A Up, CLU1-B Up" in lines
    assert f"- CLU1-A registry `HKLM\\Software\\Microsoft\\MSDTC` -> `{BACKUP_A}`" in lines


def test_compact() -> None:
    assert compact(None) == "absent" and compact({"exists": False, "values": {}}) == "absent"
    assert compact({"exists": True}) == "present" and compact({}) == "none"
    assert compact({"exists": True, "values": {}, "subkeys": []}) == "values={}, subkeys=[]"
    assert compact(["CLU1-B", "CLU1-A"]) == "CLU1-B, CLU1-A"
    assert compact({"exists": True, "values": {"X": None}, "subkeys": []}) == "values={X=absent}, subkeys=[]"
    assert compact("x" * 20, width=10) == "x" * 9 + "…"
