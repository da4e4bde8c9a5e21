"""Saved plans over WinRM: the plan reviewed is the plan applied, or it is refused as stale with nothing changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from enforcer.cli import main

REPAIR = Path(__file__).resolve().parents[1] / "playbooks" / "msdtc_cluster_repair.yml"


def _changes(sim) -> list:
    return [r for r in sim.journal.records("change")]


def test_a_fresh_saved_plan_applies_exactly_its_changes(cli_sim, capsys, tmp_path):
    sim, inventory = cli_sim("kb252641-broken", auth="basic-http")
    saved = tmp_path / "change-ticket-4711.plan.json"
    assert main(["plan", str(REPAIR), "-i", inventory, "--save-plan", str(saved), "--detailed-exitcode"]) == 2
    document = json.loads(saved.read_text())
    assert document["format"] == "enforcer-saved-plan/1" and document["id"] and document["created"]
    planned = [(c["task"], c["node"]) for c in document["changes"]]
    assert len(planned) == 12 and not _changes(sim), "saving a plan changes nothing"
    capsys.readouterr()
    assert main(["apply", "--plan", str(saved), "--yes", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "still holds: applying exactly its 12 change(s)" in out.err
    steps = json.loads(out.out)["clusters"][0]["steps"]
    assert [(s["task"], s["node"]) for s in steps] == planned


def test_a_stale_saved_plan_is_refused_with_the_differences_and_nothing_changed(cli_sim, capsys, tmp_path):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    sim.drift({"action": "service.set", "node": "CLU1-B", "name": "MSDTC", "status": "Stopped"})
    playbook = tmp_path / "msdtc.yml"
    playbook.write_text("- name: MSDTC runs\n  hosts: all\n  tasks:\n"
                        "    - service: {name: MSDTC, state: running}\n")
    saved = tmp_path / "ticket.plan.json"
    assert main(["plan", str(playbook), "-i", inventory, "--save-plan", str(saved)]) == 0
    assert len(json.loads(saved.read_text())["changes"]) == 1
    # Between the review and the window, an operator stops MSDTC on A too: the reviewed plan no longer holds.
    sim.drift({"action": "service.set", "node": "CLU1-A", "name": "MSDTC", "status": "Stopped"})
    before = len(_changes(sim))
    capsys.readouterr()
    assert main(["apply", "--plan", str(saved), "--yes"]) == 1
    err = capsys.readouterr().err
    assert "the saved plan is stale" in err and "nothing was changed" in err
    assert "CLU1/CLU1-A" in err and "a change the saved plan does not have" in err
    assert len(_changes(sim)) == before, "0 changes"


def test_a_saved_plan_whose_playbook_changed_is_refused_before_any_connection(cli_sim, capsys, tmp_path):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    playbook = tmp_path / "repair.yml"
    shutil.copy(REPAIR, playbook)
    saved = tmp_path / "ticket.plan.json"
    assert main(["plan", str(playbook), "-i", inventory, "--save-plan", str(saved)]) == 0
    playbook.write_text(playbook.read_text() + "\n# an edit after the review\n")
    requests = sum(sim.server.requests.values())
    assert main(["apply", "--plan", str(saved), "--yes"]) == 1
    assert "changed since the plan was saved" in capsys.readouterr().err
    assert sum(sim.server.requests.values()) == requests, "no node contacted"


def test_what_is_not_a_saved_plan_or_disagrees_with_it_is_invalid_input(cli_sim, capsys, tmp_path):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"format": "something else"}')
    assert main(["apply", "--plan", str(bogus), "--yes"]) == 4
    assert main(["apply", "--plan", str(tmp_path / "missing.json"), "--yes"]) == 4
    saved = tmp_path / "ticket.plan.json"
    assert main(["plan", str(REPAIR), "-i", inventory, "--save-plan", str(saved)]) == 0
    assert main(["apply", "--plan", str(saved), "--limit", "CLU9", "--yes"]) == 4
    assert main(["plan", str(REPAIR), "-i", inventory, "--save-plan", str(tmp_path / "no" / "such.json")]) == 4
    assert "was made with limit None" in capsys.readouterr().err


def test_an_interactive_apply_reads_the_nodes_again_after_the_yes_and_asks_again_if_the_plan_changed(
        cli_sim, capsys, monkeypatch, tmp_path):
    """An operator paused a node while the prompt waited: the restart that was approved is not the one to run."""
    import enforcer.commands.run as run_command

    sim, inventory = cli_sim("kb252641-broken", auth="basic-http")
    questions = []

    def operator(question, console):
        questions.append(question)
        if len(questions) == 1:  # while this prompt waits, someone pauses B
            sim.drift({"action": "node.pause", "node": "CLU1-B"})
            return True
        return False  # shown the new plan, the operator declines

    monkeypatch.setattr(run_command, "ask", operator)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert main(["apply", str(REPAIR), "-i", inventory]) == 1
    out = capsys.readouterr().out
    assert len(questions) == 2 and "The nodes changed while the question waited" in out
    assert "CLU1-B is Paused" in out
    assert not [r for r in sim.journal.records("change") if r["object"] != "node:CLU1-B"], "nothing was changed"
