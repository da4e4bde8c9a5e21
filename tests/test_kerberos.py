"""Kerberos for real: a private MIT KDC, the simulator's listeners accepting tickets for HTTP/<node>, enforcer
getting its ticket from the password alone (no kinit, no ticket cache), every message sealed with the Kerberos
session key; and pywinrm's own Kerberos client against the same listeners."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.simulator import PASSWORD_ENV
from enforcer.simulator.kdc import missing_tools
from enforcer.transport import kerberos

REPAIR = str(Path(__file__).resolve().parents[1] / "playbooks" / "msdtc_cluster_repair.yml")
pytestmark = pytest.mark.skipif(bool(missing_tools()) or bool(kerberos.missing_library()),
                                reason="make test installs MIT Kerberos and python-gssapi")


@pytest.fixture
def kerberos_sim(cli_sim, monkeypatch, tmp_path):
    """A healthy cluster behind a KDC; the client environment as a user sets it: KRB5_CONFIG, and a ticket cache
    that stays empty (enforcer must not need one)."""
    sim, inventory = cli_sim("healthy", auth="kerberos")
    monkeypatch.setenv("KRB5_CONFIG", str(Path(inventory).with_name("krb5.conf")))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'no-ticket-here'}")
    return sim, inventory


def test_a_plan_over_kerberos_with_a_password_only_gets_its_own_ticket_and_seals_every_message(kerberos_sim,
                                                                                             capsys, tmp_path):
    sim, inventory = kerberos_sim
    assert "ansible_winrm_kerberos_hostname_override: clu1-a.simlab.test" in Path(inventory).read_text()
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert "No changes" in capsys.readouterr().out
    assert not (tmp_path / "no-ticket-here").exists(), "no ticket cache was written"
    assert main(["doctor", "-i", inventory]) == 0
    out = capsys.readouterr().out
    assert "enforcer@SIMLAB.TEST logged in with kerberos" in out and "every message encrypted (kerberos" in out
    assert "the listener offers Negotiate, Kerberos" in out


def test_a_wrong_password_meets_the_kdc_once_and_exits_3(kerberos_sim, capsys, monkeypatch):
    sim, inventory = kerberos_sim
    monkeypatch.setenv(PASSWORD_ENV, "wrong-" + sim.password)
    assert main(["plan", REPAIR, "-i", inventory]) == 3
    out = capsys.readouterr()
    text = out.out + out.err
    assert "the KDC rejected the password of enforcer@SIMLAB.TEST" in text
    assert "not tried: the same credentials were rejected by CLU1-A" in text
    assert sim.password not in text
    log = (Path(sim.kdc.krb5_conf).parent / "kdc.log").read_text()
    assert log.count("PREAUTH_FAILED") == 1, "one bad password at the KDC, not one per node"


def test_a_node_without_a_service_principal_is_named_with_the_fix(kerberos_sim, capsys):
    sim, inventory = kerberos_sim
    data = yaml.safe_load(Path(inventory).read_text())
    data["all"]["children"]["clu1"]["hosts"]["CLU1-B"]["ansible_winrm_kerberos_hostname_override"] = \
        "nosuch.simlab.test"
    Path(inventory).write_text(yaml.safe_dump(data))
    assert main(["plan", REPAIR, "-i", inventory]) == 3
    out = capsys.readouterr().out
    assert "the realm has no service principal HTTP/nosuch.simlab.test" in out and "setspn -S" in out


@pytest.mark.parametrize("library_says, credentials, words", [
    ("Clock skew too great -1765328347", False, "differ by more than 5 minutes"),
    ("Decrypt integrity check failed", True, "rejected the password of u@R"),
    ("Client not found in Kerberos database", True, "does not know the user u@R"),
    ("something new", False, "Kerberos failed: something new"),
])
def test_what_kerberos_says_is_told_in_words_an_operator_can_act_on(library_says, credentials, words):
    error = kerberos.classify(RuntimeError(library_says), "u@R", "node.r")
    assert error.credentials is credentials and words in str(error)


def test_pywinrm_s_own_kerberos_client_works_against_the_listeners(kerberos_sim, tmp_path):
    """pywinrm with pykerberos, from a ticket cache kinit filled: the listener speaks what real clients speak."""
    import winrm

    sim, _ = kerberos_sim
    cache = f"FILE:{tmp_path / 'ccache'}"
    env = {**os.environ, "KRB5CCNAME": cache}
    subprocess.run(["kinit", f"{sim.user}@{sim.realm}"], input=sim.password + "\n", text=True, env=env, check=True,
                   capture_output=True)
    os.environ["KRB5CCNAME"] = cache  # monkeypatch restores it (the fixture set it)
    endpoint = sim.endpoint("CLU1-B")
    session = winrm.Session(endpoint.url, auth=(f"{sim.user}@{sim.realm}", ""), transport="kerberos",
                            kerberos_hostname_override=sim.service_host("CLU1-B"))
    result = session.run_cmd("hostname")
    assert result.status_code == 0 and result.std_out.strip() == b"CLU1-B"
