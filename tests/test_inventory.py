"""Ansible YAML inventories read as clusters of ordered nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from enforcer.errors import InputError
from enforcer.inventory import describe, load_inventory

DATA = Path(__file__).parent / "data" / "inventory"
ROOT = Path(__file__).resolve().parents[1]


def test_an_existing_ansible_inventory_loads_unchanged(monkeypatch):
    monkeypatch.setenv("WIN_PASSWORD", "s3cret-from-env")
    inventory = load_inventory(DATA / "ansible_windows.yml")
    (cluster,) = inventory.clusters
    assert (cluster.name, cluster.group) == ("SQLCLU", "sqlcluster")
    assert cluster.node_names == ["sql-b.corp.example", "sql-a.corp.example", "sql-c.corp.example"]
    b, a, c = (n.connection for n in cluster.nodes)
    assert (b.host, b.port, b.scheme, b.auth, b.user) == ("10.0.0.12", 5985, "http", "ntlm", "CORP\\ansible")
    assert b.password == "s3cret-from-env" and b.operation_timeout_s == 40 and b.read_timeout_s == 50
    assert c.read_timeout_s == 90, "host vars beat group vars"
    assert sorted(inventory.groups["windows"]) == sorted(cluster.node_names) and inventory.groups["web"] == []
    assert not inventory.warnings


def test_cluster_node_order_overrides_file_order():
    (cluster,) = load_inventory(DATA / "node_order.yml").clusters
    assert cluster.node_names == ["n2", "n1"]


def test_the_example_inventory_loads_and_describes_without_passwords(monkeypatch):
    monkeypatch.setenv("ENFORCER_PASSWORD", "do-not-show-me")
    inventory = load_inventory(ROOT / "inventory.example.yml")
    assert [c.name for c in inventory.clusters] == ["SQLCLU1", "SQLCLU2"]
    view = describe(inventory)
    assert "do-not-show-me" not in repr(view)
    clu2 = view["clusters"][1]["nodes"]
    assert [n["order"] for n in clu2] == ["A", "B", "C"]
    assert clu2[0]["endpoint"] == "https://sqlclu2-a.corp.example:5986/wsman" and clu2[0]["password"] == "set"


@pytest.mark.parametrize("text,message,line", [
    ("c:\n  vars: {cluster_name: C}\n  hosts: {only: }\n", "has 1 node(s)", 2),
    ("a:\n  vars: {cluster_name: A}\n  hosts: {n1: , n2: }\nb:\n  vars: {cluster_name: B}\n  hosts: {n2: , n3: }\n",
     "node of two clusters", 3),
    ("c:\n  vars: {cluster_name: C, ansible_winrm_transport: basic}\n  hosts: {n1: , n2: }\n",
     "Basic authentication over plain HTTP", 3),
    ("c:\n  vars: {cluster_name: C, ansible_port: http}\n  hosts: {n1: , n2: }\n", "ansible_port must be a whole", 3),
    ("c:\n  vars: {cluster_name: C, ansible_winrm_transport: telnet}\n  hosts: {n1: , n2: }\n",
     "ansible_winrm_transport must be one of", 3),
    ("c:\n  vars: {cluster_name: C, ansible_winrm_read_timeout_sec: 10}\n  hosts: {n1: , n2: }\n",
     "must exceed ansible_winrm_operation_timeout_sec", 3),
    ("c:\n  host: {n1: }\n", "unknown key 'host'", 2),
    ("c:\n  vars: {cluster_name: C, cluster_node_order: [n1]}\n  hosts: {n1: , n2: }\n",
     "cluster_node_order must list exactly", 2),
    ("- just\n- a list\n", "must be a mapping of groups", 1),
    ("c:\n  hosts:\n    n1:\n    n1:\n", "duplicate key 'n1'", 4),
    ("c:\n  hosts: [n1, n2]\n", "hosts of group 'c' must be a mapping", 2),
])
def test_bad_inventories_name_file_line_and_what_was_expected(tmp_path, text, message, line):
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        load_inventory(path)
    assert message in str(error.value)
    assert error.value.location == f"{path}:{line}"


def test_a_plain_text_password_is_accepted_with_a_warning(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text("c:\n  vars: {cluster_name: C, ansible_user: u, ansible_password: hunter2}\n"
                    "  hosts: {n1: , n2: }\n")
    inventory = load_inventory(path)
    assert len(inventory.warnings) == 2 and "plain text" in inventory.warnings[0]
    assert "hunter2" not in inventory.warnings[0]
