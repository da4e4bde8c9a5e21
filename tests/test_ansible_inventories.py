"""Inventories as Ansible reads them: enforcer's view of a corpus (INI, YAML, directories, group_vars and
host_vars, ranges, hosts in several groups, INI typing, group priority) against `ansible-inventory --list`.

Each case is a folder under tests/data/ansible_inventories/ holding `inventory` (an INI file or a folder of
sources) or `inventory.yml`, and whatever Ansible reads beside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from enforcer.inventory import load_inventory

CASES = Path(__file__).parent / "data" / "ansible_inventories"
ANSIBLE_INVENTORY = shutil.which("ansible-inventory") or str(Path(sys.executable).parent / "ansible-inventory")


def _source(case: Path) -> Path:
    return case / "inventory" if (case / "inventory").exists() else case / "inventory.yml"


def _ansible_view(source: Path) -> tuple[dict[str, dict], dict[str, set[str]]]:
    """(host -> vars, group -> every host under it) as ansible-inventory --list shows them."""
    listed = json.loads(subprocess.run([ANSIBLE_INVENTORY, "-i", str(source), "--list"], capture_output=True,
                                       text=True, check=True).stdout)
    hostvars = listed.pop("_meta", {}).get("hostvars", {})

    def under(group: str) -> set[str]:
        body = listed.get(group, {})
        return set(body.get("hosts", [])).union(*(under(child) for child in body.get("children", [])))

    return hostvars, {group: under(group) for group in listed}


def test_the_corpus_holds_at_least_15_inventories():
    assert len([c for c in CASES.iterdir() if c.is_dir()]) >= 15


@pytest.mark.parametrize("case", sorted(c for c in CASES.iterdir() if c.is_dir()), ids=lambda c: c.name)
def test_enforcer_reads_each_inventory_as_ansible_does(case):
    pytest.importorskip("ansible", reason="ansible-core is a test dependency")
    source = _source(case)
    hostvars, members = _ansible_view(source)
    inventory = load_inventory(source)
    nodes = {node.name: node for cluster in inventory.clusters for node in cluster.nodes}
    assert nodes, "every case has at least one cluster"
    for name, node in nodes.items():
        assert node.vars == hostvars.get(name, {}), name
    for group, hosts in inventory.groups.items():
        if group in members:
            assert set(hosts) == members[group] & set(nodes), group
    clustered = {name for name, node_vars in hostvars.items() if "cluster_name" in node_vars}
    assert clustered == set(nodes), "every host with a cluster_name is a node, and only those"
