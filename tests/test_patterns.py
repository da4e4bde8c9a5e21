"""Host patterns, `hosts:` and `--limit`, against ansible-core's own matching on a table of cases; and what enforcer
asks more (whole clusters, every term matching something, cluster names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enforcer.errors import InputError
from enforcer.inventory import load_inventory
from enforcer.patterns import select_hosts, selected_clusters

INVENTORY = Path(__file__).parent / "data" / "patterns" / "inventory.yml"
CASES = ["all", "*", "all:!clu2", "all,!clu2", "sql:&clu1", "sql:!clu1", "!clu2", "&sql", "clu*", "clu?",
         "~clu[12]$", "~^clu3", "web:clu1", "clu1-a,clu1-b", "clu1-?", "sql:&~.*-a$", "all:!~.*-b$", "clu1[0]",
         "sql[1:2]", "sql[-1]", "sql[0-1]", "web,sql", "all:!web:&sql", "~clu1", "all:&all"]


@pytest.fixture(scope="module")
def ansible():
    pytest.importorskip("ansible", reason="ansible-core is a test dependency")
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    return InventoryManager(loader=DataLoader(), sources=[str(INVENTORY)])


@pytest.mark.parametrize("pattern", CASES)
def test_a_pattern_selects_the_hosts_ansible_selects(pattern, ansible):
    ours = select_hosts(pattern, load_inventory(INVENTORY), "--limit")
    assert sorted(ours) == sorted(h.name for h in ansible.get_hosts(pattern=pattern))


@pytest.mark.parametrize("pattern, clusters", [
    ("all:!CLU2", ["CLU1", "CLU3"]), ("all:!clu2", ["CLU1", "CLU3"]), ("sql:&CLU1", ["CLU1"]),
    ("~^CLU[23]$", ["CLU2", "CLU3"]), ("clu1-a:clu1-b", ["CLU1"]),
])
def test_clusters_are_selected_whole_and_by_their_names_too(pattern, clusters):
    assert [c.name for c in selected_clusters(pattern, load_inventory(INVENTORY), "--limit")] == clusters


@pytest.mark.parametrize("pattern, words", [
    ("all:!CLU9", "'CLU9' in the host pattern 'all:!CLU9' matches no group, cluster or host"),
    ("clu1-a", "selects clu1-a but not clu1-b of cluster CLU1: enforcer acts on whole clusters"),
    ("sql[0]", "selects clu1-a but not clu1-b"),
    ("~clu(", "is not a regular expression"),
    ("clu[13]", "'clu' in the host pattern 'clu[13]' matches no group"),  # a subscript of nothing: Ansible warns
    ("web,sql:!clu2", "'sql:!clu2' in the host pattern"),  # with commas, ':' is part of a name: Ansible warns
    ("~-a$", "matches no group"),  # a regular expression is matched from the start
    ("all:{a,b}", "is not a pattern enforcer reads"),
    ("~clu[", "is not a pattern enforcer reads"),  # ansible-core's split drops the '[' unsaid: enforcer says it
    ("~[", "is not a pattern enforcer reads"),
    ("sql:&web", None),
])
def test_what_enforcer_cannot_take_safely_is_invalid_input(pattern, words):
    inventory = load_inventory(INVENTORY)
    if words is None:  # nothing selected at all: the caller (load) says no cluster matches
        assert selected_clusters(pattern, inventory, "--limit") == []
        return
    with pytest.raises(InputError, match=words.replace("[", r"\[").replace("(", r"\(")):
        selected_clusters(pattern, inventory, "--limit")


REPAIR = Path(__file__).resolve().parents[1] / "playbooks" / "msdtc_cluster_repair.yml"


@pytest.mark.parametrize("where", ["limit", "hosts"])
def test_an_excluded_cluster_is_left_untouched_over_winrm(cli_sim, capsys, tmp_path, where):
    from enforcer.cli import main

    sim, inventory = cli_sim("kb252641-broken", clusters=2, auth="basic-http")
    playbook, extra = str(REPAIR), ["--limit", "all:!CLU2"]
    if where == "hosts":
        playbook = str(tmp_path / "repair.yml")
        Path(playbook).write_text(REPAIR.read_text().replace("hosts: all", 'hosts: "all:!CLU2"', 1))
        extra = []
    assert main(["apply", playbook, "-i", inventory, "--yes", *extra]) == 0
    touched = {r["cluster"] for r in sim.journal.records("change")}
    assert touched == {"CLU1"}, "CLU2 is excluded, so nothing changed there"
    assert {r["node"] for r in sim.journal.records("op")} <= {"CLU1-A", "CLU1-B"}, "CLU2 was not even read"

    assert main(["plan", playbook, "-i", inventory, "--list-hosts", *extra]) == 0
    out = capsys.readouterr().out
    assert "CLU1: CLU1-A, CLU1-B" in out and "CLU2:" not in out
    assert main(["inventory", "-i", inventory, "-l", "all:!CLU2"]) == 0
    assert "cluster CLU2" not in capsys.readouterr().out
