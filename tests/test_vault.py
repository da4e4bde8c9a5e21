"""Vault: an inventory whose password is a `!vault` value drives a plan against the simulator with
--vault-password-file; the password (and the vault's) appears nowhere: not in output at -vvv, not in the run's
records, not in the history. A missing or wrong vault password is invalid input, nothing contacted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV

ROOT = Path(__file__).resolve().parents[1]
RESTART = str(ROOT / "playbooks" / "cluster_ordered_restart.yml")
VAULT_PASSWORD = "correct-horse-vault"


@pytest.fixture
def vaulted(cli_sim, tmp_path, monkeypatch):
    """A simulated cluster whose inventory reads its password from group_vars/all.yml, vault-encrypted."""
    pytest.importorskip("ansible", reason="ansible-core is a test dependency")
    from ansible.parsing.vault import VaultLib, VaultSecret

    sim, inventory = cli_sim("healthy", auth="basic-http")
    data = yaml.safe_load(Path(inventory).read_text())
    del data["all"]["vars"]["ansible_password"]
    Path(inventory).write_text(yaml.safe_dump(data))
    secret = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))]).encrypt(sim.password).decode()
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(
        "ansible_password: !vault |\n" + "".join(f"  {line}\n" for line in secret.splitlines()))
    password_file = tmp_path / "vault-pass.txt"
    password_file.write_text(VAULT_PASSWORD + "\n")
    monkeypatch.delenv(PASSWORD_ENV)
    return sim, inventory, str(password_file)


def test_a_vaulted_password_drives_a_plan_and_appears_nowhere(vaulted, tmp_path, capsys):
    sim, inventory, password_file = vaulted
    assert main(["plan", RESTART, "-i", inventory, "--vault-password-file", password_file, "-vvv"]) == 0
    shown = capsys.readouterr()
    assert "ordered cluster-service restart" in shown.out and sum(sim.server.requests.values()) > 0
    assert main(["inventory", "-i", inventory, "--vault-password-file", password_file]) == 0
    assert "password=set" in capsys.readouterr().out
    written = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    for secret in (sim.password, VAULT_PASSWORD):
        assert secret not in shown.out + shown.err
        assert secret.encode() not in written


def test_a_missing_or_wrong_vault_password_is_invalid_input_and_contacts_nobody(vaulted, tmp_path, capsys,
                                                                                  monkeypatch):
    sim, inventory, _ = vaulted
    assert main(["plan", RESTART, "-i", inventory]) == 4
    assert "vault" in capsys.readouterr().err
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-it\n")
    assert main(["plan", RESTART, "-i", inventory, "--vault-password-file", str(wrong)]) == 4
    err = capsys.readouterr().err
    assert "vault" in err.lower() and "not-it" not in err
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "nowhere.txt"))
    assert main(["validate", RESTART, "-i", inventory]) == 4
    assert "vault password file" in capsys.readouterr().err
    assert sum(sim.server.requests.values()) == 0
