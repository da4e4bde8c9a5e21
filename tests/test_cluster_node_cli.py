"""cluster_node end to end: the CLI over real WinRM pauses a node and resumes it, then plans nothing."""

from __future__ import annotations

import yaml

from enforcer.cli import main


def _playbook(tmp_path, title: str, **args: object) -> str:
    path = tmp_path / f"{title}.yml"
    path.write_text(yaml.safe_dump([{"name": title, "hosts": "all",
                                     "tasks": [{"name": title, "cluster_node": args}]}]))
    return str(path)


def test_pause_and_resume_over_winrm(cli_sim, tmp_path, capsys):
    sim, inventory = cli_sim("healthy")
    pause = _playbook(tmp_path, "pause", name="CLU1-B", state="paused")
    resume = _playbook(tmp_path, "resume", name="CLU1-B", state="up")

    assert main(["plan", pause, "-i", inventory, "--detailed-exitcode"]) == 2
    assert "node CLU1-B is Up" in capsys.readouterr().out
    assert main(["apply", pause, "-i", inventory, "--yes"]) == 0
    assert main(["plan", pause, "-i", inventory, "--detailed-exitcode"]) == 0
    assert main(["apply", resume, "-i", inventory, "--yes"]) == 0
    assert main(["plan", resume, "-i", inventory, "--detailed-exitcode"]) == 0
    changes = [(r["from"], r["to"]) for r in sim.journal.records("change") if r["object"] == "node:CLU1-B"]
    assert changes == [("Up", "Paused"), ("Paused", "Up")]
