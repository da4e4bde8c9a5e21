"""`enforcer doctor` over real WinRM against the simulator: a verdict per check, the cause named, the exit code."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

from enforcer.cli import main

SCENARIOS = Path(__file__).parent / "data" / "scenarios"
CHECKS = ["reach", "schemes", "login", "encryption", "admin", "powershell", "cluster module", "cluster", "quotas",
          "clock"]


def _doctor(inventory: str, capsys, *extra: str) -> tuple[int, dict]:
    code = main(["doctor", "-i", inventory, "--format", "json", *extra])
    reports = json.loads(capsys.readouterr().out)["nodes"]
    return code, {n["node"]: {v["check"]: v for v in n["verdicts"]} for n in reports}


@pytest.mark.parametrize("auth", ["ntlm", "basic-http", "basic-https"])
def test_a_healthy_cluster_passes_every_check_on_every_auth_mode(cli_sim, capsys, auth):
    sim, inventory = cli_sim("healthy", auth=auth)
    code, nodes = _doctor(inventory, capsys)
    assert code == 0, nodes
    for verdicts in nodes.values():
        expected = CHECKS[:1] + (["tls"] if auth == "basic-https" else []) + CHECKS[1:]
        assert list(verdicts) == expected
        assert all(v["status"] == "ok" for c, v in verdicts.items() if c != "encryption")
    a = nodes["CLU1-A"]
    assert a["encryption"]["status"] == ("warn" if auth == "basic-http" else "ok")
    assert a["admin"]["detail"] == f"SIMLAB\\{sim.user} holds an Administrators token"
    assert "member CLU1-A of CLU1" in a["cluster"]["detail"] and "MaxEnvelopeSizekb 500" in a["quotas"]["detail"]
    assert main(["doctor", "-i", inventory]) == 0
    assert "2 of 2 node(s) ready" in capsys.readouterr().out


def test_a_refused_connection_is_named_with_a_fix_and_exits_3(cli_sim, capsys, tmp_path):
    sim, inventory = cli_sim("healthy", auth="basic-http")
    data = yaml.safe_load(Path(inventory).read_text())
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    data["all"]["children"]["clu1"]["hosts"]["CLU1-B"].update(ansible_host="127.0.0.1", ansible_port=closed)
    Path(inventory).write_text(yaml.safe_dump(data))
    code, nodes = _doctor(inventory, capsys)
    assert code == 3
    assert nodes["CLU1-B"]["reach"]["status"] == "fail" and "connection refused" in nodes["CLU1-B"]["reach"]["detail"]
    assert "Test-WSMan" in nodes["CLU1-B"]["reach"]["hint"] and list(nodes["CLU1-B"]) == ["reach"]
    assert nodes["CLU1-A"]["admin"]["status"] == "ok"


def test_a_wrong_password_is_tried_on_one_node_and_named(cli_sim, capsys, monkeypatch):
    sim, inventory = cli_sim("healthy", auth="ntlm")
    monkeypatch.setenv("ENFORCER_PASSWORD", "wrong-" + sim.password)
    code, nodes = _doctor(inventory, capsys)
    assert code == 3
    assert f"the credentials of {sim.user} were rejected" in nodes["CLU1-A"]["login"]["detail"]
    assert "not tried: the same credentials were rejected by CLU1-A" in nodes["CLU1-B"]["login"]["detail"]
    assert sim.server.requests["CLU1-B"] <= 1, "CLU1-B met only the anonymous probe of its schemes, no password"


def test_an_untrusted_certificate_is_named_with_a_fix(cli_sim, capsys):
    sim, inventory = cli_sim("healthy", auth="basic-https", inventory_vars={
        "ansible_winrm_ca_trust_path": "/etc/ssl/certs/ca-certificates.crt"})
    code, nodes = _doctor(inventory, capsys)
    assert code == 3
    tls = nodes["CLU1-A"]["tls"]
    assert tls["status"] == "fail" and "not trusted" in tls["detail"] and "ca_trust_path" in tls["hint"]


@pytest.mark.parametrize("scenario, check, words, fix", [
    ("kb252641-no-cluster-module", "cluster module", "FailoverClusters PowerShell module is not installed",
     "RSAT-Clustering-PowerShell"),
    ("healthy-b-not-admin", "admin", "is not an administrator here", "Administrators group"),
])
def test_what_the_session_may_not_do_is_named_and_exits_1(cli_sim, capsys, scenario, check, words, fix):
    sim, inventory = cli_sim(str(SCENARIOS / f"{scenario}.yml"), auth="ntlm")
    code, nodes = _doctor(inventory, capsys)
    assert code == 1
    verdict = nodes["CLU1-B"][check]
    assert verdict["status"] == "fail" and words in verdict["detail"] and fix in verdict["hint"]
    assert nodes["CLU1-A"][check]["status"] == "ok"
