"""Variables and names as users rely on them: precedence, node names, FQDN inventories."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV, simulate

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")


@pytest.fixture
def healthy(tmp_path, monkeypatch):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path / "state"))
    with simulate("healthy", auth="basic-http", time_scale=0.005) as sim:
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        yield sim, tmp_path


def _playbook(tmp_path: Path, play_vars: dict) -> str:
    path = tmp_path / "who.yml"
    path.write_text(yaml.safe_dump([{"name": "who", "hosts": "all", "vars": play_vars, "tasks": [
        {"name": "say who", "assert": {"that": "false", "fail_msg": "who={{ who }} on {{ node_name }}"}}]}]))
    return str(path)


@pytest.mark.parametrize("inventory,play,extra,expected", [
    ("inv", None, None, "inv"), ("inv", "play", None, "play"), ("inv", "play", "cli", "cli"),
    (None, None, "cli", "cli"),
])
def test_precedence_is_inventory_then_play_vars_then_extra_vars(healthy, capsys, inventory, play, extra, expected):
    sim, tmp_path = healthy
    inventory_path = tmp_path / "inventory.yml"
    sim.write_inventory(str(inventory_path), **({"who": inventory} if inventory else {}))
    argv = ["plan", _playbook(tmp_path, {"who": play} if play else {}), "-i", str(inventory_path)]
    assert main(argv + (["-e", f"who={extra}"] if extra else [])) == 1
    assert f"who={expected} on CLU1-A" in capsys.readouterr().out


def test_an_inventory_of_fqdns_is_mapped_to_the_cluster_s_node_names(healthy, capsys):
    """Hosts named sql-a.corp.example in the inventory are CLU1-A to the cluster itself."""
    sim, tmp_path = healthy
    inventory = sim.inventory()
    hosts = inventory["all"]["children"]["clu1"]["hosts"]
    inventory["all"]["children"]["clu1"]["hosts"] = {f"{name.lower()}.simlab.test": h for name, h in hosts.items()}
    path = tmp_path / "fqdn.yml"
    path.write_text(yaml.safe_dump(inventory))

    assert main(["apply", REPAIR, "-i", str(path), "--yes", "-e", "dtc_reinstall=true"]) == 0  # KB step 7 restarts
    out = capsys.readouterr().out
    assert "stop clu1-b.simlab.test, stop clu1-a.simlab.test, start clu1-a.simlab.test" in out
    assert "final node states: clu1-a.simlab.test Up, clu1-b.simlab.test Up" in out
    moves = [r["args"]["node"] for r in sim.journal.records("op") if r["op"] == "cluster.group.move"]
    assert moves == ["CLU1-B", "CLU1-A"], "ops name nodes as the cluster knows them"
    assert main(["plan", REPAIR, "-i", str(path), "--detailed-exitcode"]) == 0


def test_what_a_node_answers_is_data_never_a_template(healthy, capsys, monkeypatch):
    """A registry value holding Jinja must not run with the operator's environment (Ansible's 'unsafe' facts)."""
    sim, tmp_path = healthy
    monkeypatch.setenv("PROBE_SECRET", "s3cret-from-env")
    planted = "{{ lookup('env', 'PROBE_SECRET') }}"
    sim.drift({"action": "registry.set", "node": "CLU1-A", "path": r"HKLM\Software\Probe", "name": "Note",
               "data": planted})
    path = tmp_path / "probe.yml"
    show = {"that": "false",
            "fail_msg": "note={{ nodes['CLU1-A'] | registry_value('HKLM\\\\Software\\\\Probe', 'Note') }}"}
    path.write_text(yaml.safe_dump([{"name": "probe", "hosts": "all",
                                     "gather_facts": {"registry": [r"HKLM\Software\Probe"]},
                                     "tasks": [{"name": "show the value", "assert": show}]}]))
    inventory = tmp_path / "inventory.yml"
    sim.write_inventory(str(inventory))
    assert main(["plan", str(path), "-i", str(inventory)]) == 1
    out = capsys.readouterr().out
    assert f"note={planted}" in out
    assert "s3cret-from-env" not in out
