"""cluster_node end to end: the CLI over real WinRM pauses a node and resumes it, then plans nothing."""

from __future__ import annotations

from checks import one_task_playbook
from enforcer.cli import main


def test_pause_and_resume_over_winrm(cli_sim, tmp_path, capsys):
    sim, inventory = cli_sim("healthy")
    pause = one_task_playbook(tmp_path, "pause", "cluster_node", name="CLU1-B", state="paused")
    resume = one_task_playbook(tmp_path, "resume", "cluster_node", name="CLU1-B", state="up")

    assert main(["plan", pause, "-i", inventory, "--detailed-exitcode"]) == 2
    assert "node CLU1-B is Up" in capsys.readouterr().out
    assert main(["apply", pause, "-i", inventory, "--yes"]) == 0
    assert main(["plan", pause, "-i", inventory, "--detailed-exitcode"]) == 0
    assert main(["apply", resume, "-i", inventory, "--yes"]) == 0
    assert main(["plan", resume, "-i", inventory, "--detailed-exitcode"]) == 0
    changes = [(r["from"], r["to"]) for r in sim.journal.records("change") if r["object"] == "node:CLU1-B"]
    assert changes == [("Up", "Paused"), ("Paused", "Up")]
