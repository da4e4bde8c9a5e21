"""Locks, interrupted runs and crashed runs: nothing left down, nothing run twice at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from checks import started_out_of_turn
from enforcer.cli import main
from enforcer.locks import ClusterLock
from enforcer.simulator import PASSWORD_ENV, simulate

ROOT = Path(__file__).resolve().parents[1]
RESTART = str(ROOT / "playbooks" / "cluster_ordered_restart.yml")
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def _inventory(sim, tmp_path: Path) -> str:
    path = tmp_path / "inventory.yml"
    sim.write_inventory(str(path))
    return str(path)


def test_a_second_apply_on_a_locked_cluster_exits_5_naming_the_holder(env, monkeypatch, capsys):
    with simulate("kb252641-broken", clusters=2, auth="basic-http", time_scale=0.005) as sim:
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        inventory = _inventory(sim, env)
        holder = ClusterLock(env / "state" / "locks", "CLU1", "held-by-test")
        holder.acquire()
        try:
            assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 5
            err = capsys.readouterr().err
            assert f"pid {os.getpid()} on {socket.gethostname()}, started 20" in err and "CLU1" in err
            assert not sim.journal.records(), "a locked run contacts no node"
            assert main(["apply", REPAIR, "-i", inventory, "--yes", "--limit", "CLU2"]) == 0, \
                "another cluster runs meanwhile"
        finally:
            holder.release()
        assert main(["apply", REPAIR, "-i", inventory, "--yes", "--limit", "CLU1"]) == 0


def _wait_for(sim, predicate, proc: subprocess.Popen) -> None:
    """Block until the simulator's journal shows `predicate` (the simulator, not a timer, says when)."""
    seen = threading.Event()
    while not seen.is_set():
        if any(predicate(r) for r in sim.journal.records("change")):
            seen.set()
        elif proc.poll() is not None:
            raise AssertionError(f"enforcer exited early: {proc.stdout.read()}")
        else:
            seen.wait(0.01)


def _apply_process(inventory: str, env_dir: Path, password: str) -> subprocess.Popen:
    environment = {**os.environ, "ENFORCER_STATE_DIR": str(env_dir / "state"), PASSWORD_ENV: password}
    return subprocess.Popen([sys.executable, "-m", "enforcer", "apply", RESTART, "-i", inventory, "--yes"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)


def _b_stopped(record: dict) -> bool:
    return (record["node"], record["object"], record["to"]) == ("CLU1-B", "service:ClusSvc", "Stopped")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_mid_restart_recovers_reports_and_exits_130(env, signum):
    with simulate("healthy", auth="basic-http", time_scale=0.1) as sim:
        proc = _apply_process(_inventory(sim, env), env, sim.password)
        _wait_for(sim, _b_stopped, proc)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out
        line = next(ln for ln in out.splitlines() if "ordered restart interrupted before" in ln)
        assert "recovery:" in line and "CLU1-B Up" in line, out
        assert [n["state"] for n in sim.state()["clusters"][0]["nodes"]] == ["Up", "Up"]
        assert not started_out_of_turn(sim.state()["clusters"][0])
        run = json.loads(next((env / "state" / "runs").glob("*/run.json")).read_text())
        assert run["interrupted"] and run["clusters"][0]["final_nodes"] == {"CLU1-A": "Up", "CLU1-B": "Up"}


def test_after_kill_9_the_next_run_names_the_step_in_flight_and_finishes_safely(env, monkeypatch, capsys):
    with simulate("healthy", auth="basic-http", time_scale=0.1) as sim:
        inventory = _inventory(sim, env)
        proc = _apply_process(inventory, env, sim.password)
        _wait_for(sim, _b_stopped, proc)
        proc.kill()
        proc.wait()
        assert {n["name"]: n["state"] for n in sim.state()["clusters"][0]["nodes"]}["CLU1-B"] == "Down"

        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        sim.clock.scale = 0.005
        assert main(["apply", RESTART, "-i", inventory, "--yes"]) == 0
        captured = capsys.readouterr()
        assert "ended during 'Restart the cluster service, last down first up (KB step 5)' (cluster_restart)" \
            in captured.err
        assert "start CLU1-B, stop CLU1-B, stop CLU1-A, start CLU1-A, start CLU1-B" in captured.out
        assert [n["state"] for n in sim.state()["clusters"][0]["nodes"]] == ["Up", "Up"]
        assert not started_out_of_turn(sim.state()["clusters"][0])


def _a_stopped(record: dict) -> bool:
    return (record["node"], record["object"], record["to"]) == ("CLU1-A", "service:ClusSvc", "Stopped")


def test_kill_9_with_every_node_down_is_recovered_from_another_control_host_last_down_first(env, monkeypatch, capsys,
                                                                                           tmp_path):
    """The run is killed after stop B, stop A: the whole cluster is down. Another control host (its own state
    directory, its own inventory spelling nothing in common) reads the restart's record on the nodes and starts A,
    the last one down, first; the cluster ends healthy."""
    with simulate("healthy", auth="basic-http", time_scale=0.1) as sim:
        proc = _apply_process(_inventory(sim, env), env, sim.password)
        _wait_for(sim, _a_stopped, proc)
        proc.kill()
        proc.wait()
        assert [n["state"] for n in sim.state()["clusters"][0]["nodes"]] == ["Down", "Down"]

        other = tmp_path / "other-control-host"
        other.mkdir()
        monkeypatch.setenv("ENFORCER_STATE_DIR", str(other / "state"))
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        sim.clock.scale = 0.005
        starts = len([r for r in sim.journal.records("change") if r["object"] == "service:ClusSvc"])
        assert main(["apply", RESTART, "-i", _inventory(sim, other), "--yes"]) == 0
        out = capsys.readouterr().out
        assert "every node is Down: run" in out and "start CLU1-A, start CLU1-B" in out
        after = [(r["node"], r["to"]) for r in sim.journal.records("change")
                 if r["object"] == "service:ClusSvc"][starts:]
        assert after[:2] == [("CLU1-A", "Running"), ("CLU1-B", "Running")], "the last one down starts first"
        cluster = sim.state()["clusters"][0]
        assert [n["state"] for n in cluster["nodes"]] == ["Up", "Up"] and not started_out_of_turn(cluster)
        assert all(g["state"] == "Online" for g in cluster["groups"])
        assert not any(n["registry"].get("HKLM\\SOFTWARE\\enforcer\\OrderedRestart") for n in cluster["nodes"])


LOG = "R:\\MSDTC\\99c00fb5-c240-56fa-952f-fdfdcd487099"  # the DTC's log folder, named after its resource's GUID


def test_restore_puts_back_every_key_and_folder_the_repair_deleted(env, monkeypatch, capsys):
    with simulate("kb252641-broken", auth="basic-http", time_scale=0.005) as sim:
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        inventory = _inventory(sim, env)
        for node in ("CLU1-A", "CLU1-B"):  # a value msdtc -install does not write again: only a restore brings it back
            sim.drift({"action": "registry.set", "node": node, "path": r"HKLM\SYSTEM\CurrentControlSet\Services\MSDTC",
                       "name": "DelayedAutostart", "data": 1, "type": "REG_DWORD"})
        before = sim.state()["clusters"][0]
        assert main(["apply", REPAIR, "-i", inventory, "--yes", "--format", "json"]) == 0
        run = json.loads(capsys.readouterr().out)
        service_key = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSDTC"
        assert "DelayedAutostart" not in sim.state()["clusters"][0]["nodes"][0]["registry"][service_key]

        # A DTC log is never put back (Microsoft: Restoring Damaged DTC Log Files); its backup stays.
        assert main(["restore", run["run_id"], "--only", LOG, "--yes"]) == 1
        out = capsys.readouterr().out
        assert f"kept    CLU1-A: {LOG}: a DTC log is never restored from a backup" in out
        assert main(["restore", run["run_id"], "--yes"]) == 0
        after = sim.state()["clusters"][0]
        for node_before, node_after in zip(before["nodes"], after["nodes"], strict=True):
            ours = {k for k in node_after["registry"] if k.lower().startswith("hklm\\software\\enforcer")}
            assert {k: v for k, v in node_after["registry"].items() if k not in ours} == node_before["registry"], \
                "every key is back; enforcer's own bookkeeping key (an ordered restart's record) may stay, empty"
            assert all(not node_after["registry"][k] for k in ours)
        old = before["disks"]["R:"]["files"][LOG + "\\MSDTC.LOG"]
        assert after["disks"]["R:"]["files"][LOG + "\\MSDTC.LOG"] != old, "the old log is not back"
        backup = next(b["file"] for c in run["clusters"] for b in c["backups"] if b["path"] == LOG)
        assert backup in after["nodes"][0]["fs"], "its backup stays on the node for forensics"
        assert main(["restore", "no-such-run", "--yes"]) == 4


@pytest.mark.parametrize("path, dtc_log", [
    ("Q:\\MSDTCLog", True), ("q:\\msdtclog\\", True), ("R:\\Roles\\DTC1\\MSDTCLog", True),
    ("C:\\Windows\\System32\\Msdtc", True), ("C:\\Windows\\System32\\MsDtc\\MSDTC.LOG", True),
    ("G:\\MSDTC\\3f2504e0-4f89-11d3-9a0c-0305e82c3301", True),
    ("Q:\\MSDTCLogs-old", False), ("C:\\Windows\\Logs\\CBS", False), ("Q:\\Data\\msdtc.txt", False),
])
def test_a_dtc_log_is_told_by_its_path(path, dtc_log):
    from enforcer.restore import is_dtc_log

    assert is_dtc_log(path) is dtc_log
