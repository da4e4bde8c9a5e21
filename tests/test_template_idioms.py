"""Ansible's template idioms: `default`, `is defined` / `is undefined`, `mandatory`; validated, planned, applied."""

from __future__ import annotations

from pathlib import Path

from enforcer.cli import main

PLAYBOOK = """
- name: Idioms
  hosts: all
  tasks:
    - name: A key whose owner defaults
      registry_key:
        path: HKLM\\\\SOFTWARE\\\\Contoso
        values: {Owner: "{{ owner | default('ops') }}", Ticket: "{{ ticket | mandatory }}"}
    - name: Only when a flag is given
      when: extra_key is defined and extra_key
      registry_key: {path: HKLM\\\\SOFTWARE\\\\Contoso\\\\Extra}
    - name: Only without it
      when: extra_key is undefined
      registry_key: {path: HKLM\\\\SOFTWARE\\\\Contoso\\\\Plain}
"""


def test_default_defined_and_mandatory_validate_plan_and_apply(cli_sim, tmp_path, capsys):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    playbook = tmp_path / "idioms.yml"
    playbook.write_text(PLAYBOOK)
    assert main(["validate", str(playbook), "-i", inventory]) == 0
    assert main(["apply", str(playbook), "-i", inventory, "--yes"]) == 1, "ticket is mandatory"
    assert "mandatory variable 'ticket' is not defined" in capsys.readouterr().out
    assert not sim.journal.records("change")
    assert main(["apply", str(playbook), "-i", inventory, "--yes", "-e", "ticket=CHG42"]) == 0
    registry = sim.state()["clusters"][0]["nodes"][0]["registry"]
    assert {k: v["data"] for k, v in registry["HKLM\\SOFTWARE\\Contoso"].items()} == {"Owner": "ops", "Ticket": "CHG42"}
    contoso = sorted(k for k in registry if "contoso" in k.lower())
    assert contoso == ["HKLM\\SOFTWARE\\Contoso", "HKLM\\SOFTWARE\\Contoso\\Plain"], contoso


def test_version_says_what_runs_and_diff_is_accepted(capsys, cli_sim):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("enforcer 0.")
    _, inventory = cli_sim("healthy", auth="basic-http")
    restart = str(Path(__file__).resolve().parents[1] / "playbooks" / "cluster_ordered_restart.yml")
    assert main(["plan", restart, "-i", inventory, "--diff", "--list-hosts"]) == 0


BLOCKS = """
- name: Blocks and imports
  hosts: all
  vars: {audit_keys: true}
  tasks:
    - name: Audit keys
      when: audit_keys is defined and audit_keys
      tags: [audit]
      block:
        - name: One
          registry_key: {path: HKLM\\\\SOFTWARE\\\\Contoso\\\\One, values: {Owner: "{{ owner | default('ops') }}"}}
        - name: Two, unless told otherwise
          when: skip_two is undefined
          registry_key: {path: HKLM\\\\SOFTWARE\\\\Contoso\\\\Two}
    - import_tasks: more.yml
      tags: [more]
"""
MORE = """
- name: Three, imported
  registry_key: {path: HKLM\\\\SOFTWARE\\\\Contoso\\\\Three}
"""


def test_block_and_import_tasks_validate_plan_and_apply_with_their_when_and_tags(cli_sim, tmp_path):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    playbook = tmp_path / "blocks.yml"
    playbook.write_text(BLOCKS)
    (tmp_path / "more.yml").write_text(MORE)

    def contoso() -> list[str]:
        registry = sim.state()["clusters"][0]["nodes"][0]["registry"]
        return sorted(k.rsplit("\\", 1)[-1] for k in registry if k.lower().startswith("hklm\\software\\contoso\\"))

    assert main(["validate", str(playbook), "-i", inventory]) == 0
    assert main(["apply", str(playbook), "-i", inventory, "--yes", "--tags", "audit", "-e", "skip_two=1"]) == 0
    assert contoso() == ["One"], "the block's tag selects its tasks; its task's own when still holds"
    assert main(["apply", str(playbook), "-i", inventory, "--yes"]) == 0
    assert contoso() == ["One", "Three", "Two"]
    (tmp_path / "more.yml").write_text("- name: broken\n  registry_key: {path: 'relative'}\n")
    assert main(["validate", str(playbook), "-i", inventory]) == 4, "an imported file is checked like the playbook"


def test_list_tasks_shows_what_the_tags_select_with_their_conditions_and_contacts_nobody(cli_sim, tmp_path, capsys):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    playbook = tmp_path / "blocks.yml"
    playbook.write_text(BLOCKS)
    (tmp_path / "more.yml").write_text(MORE)
    assert main(["apply", str(playbook), "-i", inventory, "--list-tasks", "--tags", "audit"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == "play 'Blocks and imports' (hosts: all)"
    assert [ln.split(" (")[0].strip() for ln in shown[1:]] == ["One", "Two, unless told otherwise"]
    assert "TAGS: [audit]; when: (audit_keys is defined and audit_keys) and (skip_two is undefined)" in shown[2]
    assert sum(sim.server.requests.values()) == 0


LOOP = """
- name: A loop
  hosts: all
  tasks:
    - name: Keys
      loop: [Alpha, Beta]
      registry_key: {path: "HKLM\\\\\\\\SOFTWARE\\\\\\\\Contoso\\\\\\\\{{ item }}"}
"""


def test_each_loop_item_is_named_in_the_plan_and_as_its_step_ends(cli_sim, tmp_path, capsys):
    _, inventory = cli_sim("healthy", auth="basic-http")
    playbook = tmp_path / "loop.yml"
    playbook.write_text(LOOP)
    assert main(["apply", str(playbook), "-i", inventory, "--yes"]) == 0
    captured = capsys.readouterr()
    assert "registry_key (item=Alpha) absent ->" in captured.out
    assert any(ln.startswith("changed [CLU1-B] Keys (registry_key) (item=Beta)") for ln in captured.err.splitlines())
