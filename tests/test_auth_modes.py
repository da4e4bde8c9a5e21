"""Certificate authentication over HTTPS, and the transports that need optional libraries on a machine without
them: an inventory naming them is still read and shown, and plan says what to install."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from enforcer.cli import main

REPAIR = str(Path(__file__).resolve().parents[1] / "playbooks" / "msdtc_cluster_repair.yml")


def test_a_client_certificate_mapped_to_the_account_plans_and_passes_the_doctor(cli_sim, capsys):
    sim, inventory = cli_sim("healthy", auth="certificate")
    text = Path(inventory).read_text()
    assert "ansible_winrm_cert_pem" in text and "ansible_password" not in text
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert main(["doctor", "-i", inventory]) == 0
    assert "logged in with certificate" in capsys.readouterr().out


def test_a_certificate_the_listener_does_not_map_is_refused(cli_sim, capsys, tmp_path):
    """A valid certificate for another user: TLS accepts it, the listener maps it to no account."""
    from enforcer.simulator.tls import make_server_context

    sim, inventory = cli_sim("healthy", auth="certificate")
    make_server_context(str(tmp_path), ["localhost"], client_user="mallory")
    data = yaml.safe_load(Path(inventory).read_text())
    data["all"]["vars"].update(ansible_winrm_cert_pem=str(tmp_path / "client.pem"),
                               ansible_winrm_cert_key_pem=str(tmp_path / "client.key"))
    Path(inventory).write_text(yaml.safe_dump(data))
    assert main(["plan", REPAIR, "-i", inventory]) == 3  # its CA is not the listener's either: TLS or 401


def test_certificate_authentication_over_http_is_invalid_input(cli_sim, capsys):
    sim, inventory = cli_sim("healthy", auth="certificate")
    data = yaml.safe_load(Path(inventory).read_text())
    data["all"]["vars"]["ansible_winrm_scheme"] = "http"
    Path(inventory).write_text(yaml.safe_dump(data))
    assert main(["plan", REPAIR, "-i", inventory]) == 4
    assert "certificate authentication works over HTTPS only" in capsys.readouterr().err
    assert sum(sim.server.requests.values()) == 0


@pytest.mark.parametrize("transport", ["kerberos", "credssp", "certificate"])
def test_an_inventory_with_any_transport_is_shown_without_the_optional_libraries(transport, tmp_path, monkeypatch,
                                                                                 capsys):
    import winrm.transport

    from enforcer.transport import kerberos

    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", False)
    monkeypatch.setattr(winrm.transport, "HAVE_CREDSSP", False)
    monkeypatch.setattr(kerberos, "missing_library", lambda: "Kerberos needs python-gssapi and krb5 (pip install "
                                                             "'enforcer[kerberos]')")
    pem = tmp_path / "client.pem"
    pem.write_text("not checked before use")
    host = {"ansible_host": "127.0.0.1", "ansible_port": 1}
    common = {"ansible_winrm_transport": transport, "ansible_user": "svc@CORP.EXAMPLE", "ansible_password": "x",
              "ansible_winrm_scheme": "https" if transport == "certificate" else "http",
              "ansible_winrm_cert_pem": str(pem), "ansible_winrm_cert_key_pem": str(pem)}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"vars": common, "children": {"clu1": {
        "vars": {"cluster_name": "CLU1"}, "hosts": {"A": host, "B": host | {"ansible_port": 2}}}}}}))
    assert main(["inventory", "-i", str(inventory)]) == 0
    assert transport in capsys.readouterr().out
    if transport != "certificate":
        monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path / "state"))
        assert main(["plan", REPAIR, "-i", str(inventory)]) == 3
        assert f"pip install 'enforcer[{transport}]'" in capsys.readouterr().out


@pytest.mark.parametrize("auth, tls", [("credssp-http", "1.2"), ("credssp-http", "1.3"), ("credssp-https", "1.3"),
                                       ("credssp-https", "1.2")])
def test_credssp_plans_and_passes_the_doctor_over_http_and_https_with_tls_1_2_and_1_3(cli_sim, capsys, auth, tls):
    sim, inventory = cli_sim("healthy", auth=auth, credssp_tls=tls)
    assert "ansible_winrm_transport: credssp" in Path(inventory).read_text()
    assert main(["plan", REPAIR, "-i", inventory, "--detailed-exitcode"]) == 0
    assert main(["doctor", "-i", inventory]) == 0
    out = capsys.readouterr().out
    assert "logged in with credssp" in out and "the listener offers CredSSP" in out


def test_pywinrm_s_credssp_length_field_under_tls_1_3_is_refused_and_enforcer_s_is_not(cli_sim):
    """pywinrm 0.5 writes 48 where TLS 1.3's trailer is 17: the listener refuses the message, as Windows would."""
    import winrm

    sim, _ = cli_sim("healthy", auth="credssp-http", credssp_tls="1.3")
    session = winrm.Session(sim.endpoints[0].url, auth=(sim.user, sim.password), transport="credssp")
    with pytest.raises(winrm.exceptions.WinRMTransportError) as refused:
        session.run_cmd("hostname")
    assert refused.value.code == 400
    sim12, _ = cli_sim("healthy", auth="credssp-http", credssp_tls="1.2")
    session = winrm.Session(sim12.endpoints[0].url, auth=(sim12.user, sim12.password), transport="credssp")
    assert session.run_cmd("hostname").std_out == b"CLU1-A\r\n", "under TLS 1.2 pywinrm's field is right"


def test_a_wrong_credssp_password_is_tried_on_one_node_and_exits_3(cli_sim, capsys, monkeypatch):
    sim, inventory = cli_sim("healthy", auth="credssp-http")
    monkeypatch.setenv("ENFORCER_PASSWORD", "wrong-" + sim.password)
    assert main(["plan", REPAIR, "-i", inventory]) == 3
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "CLU1-A: the credentials of enforcer were rejected" in out.out
    assert "not tried: the same credentials were rejected by CLU1-A" in out.out
