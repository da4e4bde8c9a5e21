"""The command line as users meet it: help, inventory, validate, facts, verbosity, confirmation, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV, simulate

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")
PASSWORD = "Sup3r-Secret-Pa55"


@pytest.fixture
def live(tmp_path, monkeypatch):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with simulate("kb252641-broken", auth="ntlm", password=PASSWORD, time_scale=0.005) as sim:
        inventory = tmp_path / "inventory.yml"
        sim.write_inventory(str(inventory))
        yield sim, str(inventory), tmp_path


def test_help_documents_every_exit_code(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "130"):
        assert f"\n  {code}" in out
    for command in ("plan", "apply", "facts", "validate", "inventory", "demo", "sim"):
        assert command in out


def test_inventory_shows_clusters_ordered_nodes_and_endpoints_without_the_password(live, capsys):
    sim, inventory, _ = live
    assert main(["inventory", "-i", inventory]) == 0
    out = capsys.readouterr().out
    assert "cluster CLU1" in out and "A  CLU1-A" in out and "B  CLU1-B" in out
    assert sim.endpoints[0].url in out and "password=set" in out and PASSWORD not in out
    assert main(["inventory", "-i", inventory, "--format", "json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in view["clusters"][0]["nodes"]] == ["CLU1-A", "CLU1-B"]


def test_validate_checks_without_connecting(live, capsys):
    sim, inventory, _ = live
    assert main(["validate", REPAIR, "-i", inventory]) == 0
    assert "valid, 1 play(s), 11 task(s)" in capsys.readouterr().out
    assert main(["validate", REPAIR]) == 0
    assert sum(sim.server.requests.values()) == 0


def test_facts_are_json_from_one_call_per_node(live, capsys):
    sim, inventory, _ = live
    assert main(["facts", "-i", inventory]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert set(facts["facts"]) == {"CLU1-A", "CLU1-B"} and not facts["unreachable"]
    assert facts["facts"]["CLU1-A"]["dtc"]["version"] == "2001.12.10941.16384"  # msdtc.exe's, on every build
    assert [r["op"] for r in sim.journal.records("op")] == ["facts", "facts"]


def test_an_unreachable_node_exits_3_and_names_it(live, capsys):
    sim, inventory, _ = live
    sim.add_fault("node=CLU1-B,on=any,kind=refuse")
    assert main(["plan", REPAIR, "-i", inventory]) == 3
    out = capsys.readouterr().out
    assert "CLU1-B" in out and "connection" in out
    assert not sim.journal.records("change")


def test_every_verbosity_shows_more_and_never_the_password(live, capsys):
    sim, inventory, tmp_path = live
    sim.add_fault("node=CLU1-A,on=service.start,kind=fail")
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "-vvv"]) == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "enforcer.ops: CLU1-A: dtc.reset_log" in text  # -vv
    assert "enforcer.wire: CLU1-A POST http://" in text  # -vvv
    saved = "".join(p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "state").rglob("*") if p.is_file())
    import base64
    for form in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
                 base64.b64encode(PASSWORD.encode("utf-16-le")).decode()):
        assert form not in text and form not in saved


def test_destructive_changes_need_yes_without_a_terminal(live):
    sim, inventory, tmp_path = live
    env = {**os.environ, "ENFORCER_STATE_DIR": str(tmp_path / "state"), PASSWORD_ENV: PASSWORD}
    result = subprocess.run([sys.executable, "-m", "enforcer", "apply", REPAIR, "-i", inventory],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "disruptive change(s) without a terminal" in result.stderr and "--yes" in result.stderr
    assert not sim.journal.records("change")


def test_apply_check_only_plans(live, capsys):
    sim, inventory, _ = live
    assert main(["apply", REPAIR, "-i", inventory, "--check"]) == 0
    assert "Plan:" in capsys.readouterr().out and not sim.journal.records("change")


def test_json_run_and_saved_reports(live, capsys):
    sim, inventory, tmp_path = live
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["recap"]["CLU1-A"]["failed"] == 0 and run["recap"]["CLU1-B"]["changed"] >= 3
    assert any(b["kind"] == "dtc_log" for b in run["clusters"][0]["backups"])
    folder = tmp_path / "state" / "runs" / run["run_id"]
    assert {p.name for p in folder.iterdir()} == {"plan.json", "plan.md", "run.json", "run.md"}


def test_tags_select_tasks(live):
    sim, inventory, tmp_path = live
    assert main(["plan", REPAIR, "-i", inventory, "--skip-tags", "nothing", "--format", "json",
                 "--out", str(tmp_path / "all.json")]) == 0
    assert main(["plan", REPAIR, "-i", inventory, "--tags", "nothing", "--format", "json",
                 "--out", str(tmp_path / "none.json"), "--detailed-exitcode"]) == 0
    assert json.loads((tmp_path / "all.json").read_text())["summary"]["changes"] == 12
    assert json.loads((tmp_path / "none.json").read_text())["summary"]["changes"] == 0


def test_no_password_and_no_terminal_is_invalid_input_before_any_connection(live, monkeypatch, capsys):
    sim, inventory, _ = live
    monkeypatch.delenv(PASSWORD_ENV)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert main(["plan", REPAIR, "-i", inventory]) == 4
    assert "no password for CLU1-A, CLU1-B" in capsys.readouterr().err
    assert sum(sim.server.requests.values()) == 0


def test_comma_separated_tags_are_several_tags(live):
    sim, inventory, tmp_path = live
    assert main(["plan", REPAIR, "-i", inventory, "--tags", "a,b", "--tags", "c", "--format", "json",
                 "--out", str(tmp_path / "p.json")]) == 0
    outcomes = json.loads((tmp_path / "p.json").read_text())["clusters"][0]["outcomes"]
    assert outcomes and all(o["status"] == "skipped" for o in outcomes)
