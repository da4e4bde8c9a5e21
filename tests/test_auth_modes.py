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
