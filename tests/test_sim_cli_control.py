"""`enforcer sim` as a user runs it: endpoints, inventory, control endpoint, drift, faults, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import winrm
import yaml


def _http(method: str, url: str, payload: dict | None = None) -> tuple[int, object]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def sim_process(tmp_path):
    env = {**os.environ, "ENFORCER_STATE_DIR": str(tmp_path / "state")}
    env.pop("ENFORCER_SIM_PASSWORD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "enforcer", "sim", "--scenario", "kb252641-broken", "--clusters", "2",
         "--auth", "ntlm", "--time-scale", "0.01", "--journal", str(tmp_path / "journal.jsonl"),
         "--fault", "node=CLU2-B,on=any,kind=http500,count=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("serving"):
            break
    yield proc, "".join(lines), tmp_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_sim_serves_writes_inventory_and_stops_cleanly_on_sigterm(sim_process):
    proc, banner, tmp_path = sim_process
    endpoints = re.findall(r"^\s+(CLU\d)\s+(CLU\d-[AB])\s+(http://\S+)$", banner, re.M)
    assert [e[1] for e in endpoints] == ["CLU1-A", "CLU1-B", "CLU2-A", "CLU2-B"]
    password = re.search(r"export ENFORCER_PASSWORD='([^']+)'", banner).group(1)
    inventory_path = re.search(r"^inventory: (\S+)$", banner, re.M).group(1)
    assert inventory_path == str(tmp_path / "state" / "sim" / "inventory.yml")
    inventory = yaml.safe_load(open(inventory_path))
    assert password not in open(inventory_path).read()
    assert inventory["all"]["vars"]["ansible_password"] == "{{ lookup('env', 'ENFORCER_PASSWORD') }}"
    host = inventory["all"]["children"]["clu1"]["hosts"]["CLU1-B"]
    assert inventory["all"]["children"]["clu1"]["vars"]["cluster_name"] == "CLU1"

    url = f"http://{host['ansible_host']}:{host['ansible_port']}/wsman"
    assert winrm.Session(url, auth=("enforcer", password), transport="ntlm").run_cmd("hostname").std_out \
        == b"CLU1-B\r\n"

    control = re.search(r"^control:\s+(http://127\.0\.0\.1:\d+)", banner, re.M).group(1)
    status, state = _http("GET", f"{control}/state")
    assert status == 200 and [c["name"] for c in state["clusters"]] == ["CLU1", "CLU2"]
    assert state["faults"][0]["node"] == "CLU2-B"

    status, body = _http("POST", f"{control}/faults", {"spec": "node=CLU1-A,on=registry.get,kind=boom"})
    assert status == 400 and "kind must be one of" in body["error"]
    status, _ = _http("POST", f"{control}/faults", {"specs": ["node=*,on=service:MSDTC:start,kind=fail"]})
    assert status == 200

    status, _ = _http("POST", f"{control}/drift", {"changes": [
        {"action": "dtc.set", "node": "CLU1-A", "registered": False},
        {"action": "service.set", "node": "CLU1-B", "name": "ClusSvc", "status": "Stopped"},
        {"action": "node.pause", "node": "CLU2-A"}]})
    assert status == 200
    state = _http("GET", f"{control}/state")[1]
    nodes = {n["name"]: n for c in state["clusters"] for n in c["nodes"]}
    assert nodes["CLU1-A"]["dtc_registered"] is False
    assert (nodes["CLU1-B"]["state"], nodes["CLU2-A"]["state"]) == ("Down", "Paused")
    status, body = _http("POST", f"{control}/drift", {"action": "dtc.set", "node": "NOPE"})
    assert status == 400 and "NOPE" in body["error"]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    journal = [json.loads(line) for line in open(tmp_path / "journal.jsonl")]
    assert any(r["type"] == "change" and (r["node"], r["object"], r["from"], r["to"]) ==
               ("CLU1-A", "dtc", "registered", "unregistered") for r in journal)
    assert any(r["type"] == "op" and r["op"] == "cmd" and r["node"] == "CLU1-B" for r in journal)


def test_a_sim_process_audits_the_contract_as_the_suite_asks(sim_process):
    """The suite's ENFORCER_CONTRACT_AUDIT=1 reaches `enforcer sim`: a request outside the catalogue fails there."""
    from enforcer.transport import AgentOp
    from enforcer.transport.winrm import ConnectionSpec, WinRMTransport

    _, banner, _ = sim_process
    host, port = re.search(r"^\s+CLU1\s+CLU1-A\s+http://([\d.]+):(\d+)/wsman$", banner, re.M).groups()
    password = re.search(r"export ENFORCER_PASSWORD='([^']+)'", banner).group(1)
    with WinRMTransport("CLU1-A", ConnectionSpec(host, int(port), user="enforcer", password=password)) as node:
        result = node.call([AgentOp("registry.get", {})])[0]
    assert (result.ok, result.error_kind) == (False, "failed")
    assert result.error_message == "contract violation: registry.get request: $: 'path' is a required property"


@pytest.mark.parametrize("argv,expected", [
    (["--scenario", "no-such"], "unknown scenario 'no-such'"),
    (["--fault", "node=A,on=any"], "missing kind="),
    (["--fault", "node=A,on=nowhere,kind=fail"], "on= must be"),
    (["--clusters", "0"], "clusters must be"),
    (["--auth", "digest"], "invalid choice"),
    (["--latency", "fast"], "expected a number"),
])
def test_sim_rejects_bad_input_with_exit_4_and_one_message(argv, expected):
    result = subprocess.run([sys.executable, "-m", "enforcer", "sim", *argv], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 4
    assert expected in result.stderr and "Traceback" not in result.stderr
