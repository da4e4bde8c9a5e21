"""Records people can audit: who ran what, from where, with which enforcer, playbook and options, in the history
and in every report; what each change acts on; destructive and disruptive apart."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path

from enforcer import __version__
from enforcer.cli import main
from enforcer.history import History

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")


def test_history_and_reports_carry_who_where_what_and_each_change_s_target(cli_sim, tmp_path, capsys):
    _, inventory = cli_sim("kb252641-broken", auth="basic-http")
    assert main(["apply", REPAIR, "-i", inventory, "--yes", "--limit", "all:&CLU1", "-e",
                 "allow_sql_server=false", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    audit = run["audit"]
    assert (audit["operator"], audit["control_host"], audit["enforcer_version"]) == (
        getpass.getuser(), socket.gethostname(), __version__)
    assert len(audit["playbook_sha256"]) == 64 and audit["host_limit"] == "all:&CLU1"
    assert audit["extra_vars"] == {"allow_sql_server": "false"}  # k=v is a string, as in Ansible
    (row,) = History(tmp_path / "state" / "history.db").runs()
    assert (row["operator"], row["host_limit"], row["playbook_sha256"]) == (
        audit["operator"], "all:&CLU1", audit["playbook_sha256"])
    assert row["outcome"] == "changed" and row["started"] < row["ended"]

    plan = json.loads((tmp_path / "state" / "runs" / run["run_id"] / "plan.json").read_text())
    changes = [c for cluster in plan["clusters"] for c in cluster["changes"]]
    targets = {c["type"]: c["target"] for c in changes}
    assert targets["cluster_resource"] == "MSDTC-ClusterDTC" and targets["dtc"] == "MSDTC"
    restart = next(c for c in changes if c["type"] == "cluster_restart")
    assert (restart["destructive"], restart["disruptive"]) == (False, True)
    assert plan["summary"]["destructive"] == 4 and plan["summary"]["disruptive"] == 6

    assert main(["report", run["run_id"], "--format", "html", "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    for text in (f"<code>{audit['operator']}</code>", audit["playbook_sha256"], "<th>Disruptive</th>",
                 "<th>Target</th>", "<code>MSDTC-ClusterDTC</code>"):
        assert text in html, text
    markdown = (tmp_path / "state" / "runs" / run["run_id"] / "plan.md").read_text()
    assert f"| operator | `{audit['operator']}` |" in markdown and "| Target |" in markdown


def test_the_drift_chart_of_a_report_is_its_playbook_s(cli_sim, tmp_path, capsys):
    """Runs of another playbook on the same cluster are not this playbook's drift."""
    _, inventory = cli_sim("healthy", auth="basic-http")
    restart = str(ROOT / "playbooks" / "cluster_ordered_restart.yml")
    for _ in range(3):
        assert main(["plan", restart, "-i", inventory]) == 0
    capsys.readouterr()
    assert main(["plan", REPAIR, "-i", inventory, "--format", "json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["audit"]["run_id"]
    assert main(["report", run_id, "--format", "html", "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().count(" pending, ") == 1, "one run of this playbook, none of the other"
