"""Locks, interrupted runs and crashed runs: nothing left down, nothing run twice at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from checks import started_out_of_turn
from enforcer.cli import main
from enforcer.history import History
from enforcer.lease import LEASE_KEY
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


def _apply_process(inventory: str, env_dir: Path, password: str, playbook: str = RESTART) -> subprocess.Popen:
    environment = {**os.environ, "ENFORCER_STATE_DIR": str(env_dir / "state"), PASSWORD_ENV: password}
    return subprocess.Popen([sys.executable, "-m", "enforcer", "apply", playbook, "-i", inventory, "--yes"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)


def _b_stopped(record: dict) -> bool:
    return (record["node"], record["object"], record["to"]) == ("CLU1-B", "service:ClusSvc", "Stopped")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_mid_restart_recovers_reports_and_exits_130(env, signum):
    with simulate("healthy", auth="basic-http", time_scale=0.1) as sim:
        proc = _apply_process(_inventory(sim, env), env, sim.password)
        _wait_for(sim, _b_stopped, proc)
        proc.send_signal(signum)
        seen = []
        while not any(ln.startswith("interrupted:") for ln in seen):  # said at once, while the step finishes
            seen.append(proc.stdout.readline())
            assert seen[-1], "".join(seen)
        proc.send_signal(signum)  # an impatient second one
        rest, _ = proc.communicate(timeout=60)
        out = "".join(seen) + rest
        assert proc.returncode == 130, out
        assert "interrupted: finishing 'Restart the cluster service" in out and "Another Ctrl-C will not abandon" in out
        assert "still finishing" in out and "does not leave nodes down" in out
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
        killed = _killed_run(sim)
        assert main(["apply", RESTART, "-i", inventory, "--yes"]) == 5, "the dead run's lease has not expired yet"
        step = "'Restart the cluster service, last down first up (KB step 5)' (cluster_restart)"
        captured = capsys.readouterr()
        assert f"locked by run {killed} of " in captured.out and f"during {step}" in captured.out
        assert f"ended during {step}" in captured.err, "the local lock's record says it too"
        _let_the_lease_expire(sim)
        assert main(["apply", RESTART, "-i", inventory, "--yes"]) == 0
        captured = capsys.readouterr()
        assert f"the lease of run {killed} of " in captured.err and f"during {step}" in captured.err
        assert "taken over" in captured.err
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
        killed = _killed_run(sim)
        _let_the_lease_expire(sim)
        assert main(["apply", RESTART, "-i", _respelled_inventory(sim, other), "--yes"]) == 0
        captured = capsys.readouterr()
        out = captured.out
        assert f"the lease of run {killed} of " in captured.err and "taken over" in captured.err
        assert "every node is Down: run" in out and "start clu1-a.simlab.test, start clu1-b.simlab.test" in out, out
        after = [(r["node"], r["to"]) for r in sim.journal.records("change")
                 if r["object"] == "service:ClusSvc"][starts:]
        assert after[:2] == [("CLU1-A", "Running"), ("CLU1-B", "Running")], "the last one down starts first"
        assert not any(n["registry"].get(LEASE_KEY) for n in sim.state()["clusters"][0]["nodes"]), "lease given back"
        monkeypatch.setenv("ENFORCER_STATE_DIR", str(env / "state"))  # the killed run's own control host
        assert main(["history", "--format", "json"]) == 0
        assert [(r["id"], r["outcome"]) for r in json.loads(capsys.readouterr().out)] == [(killed, "killed")]
        cluster = sim.state()["clusters"][0]
        assert [n["state"] for n in cluster["nodes"]] == ["Up", "Up"] and not started_out_of_turn(cluster)
        assert all(g["state"] == "Online" for g in cluster["groups"])
        assert not any(n["registry"].get("HKLM\\SOFTWARE\\enforcer\\OrderedRestart") for n in cluster["nodes"])


def _killed_run(sim) -> str:
    """The run id in the lease a killed run left on the first node."""
    key = sim.state()["clusters"][0]["nodes"][0]["registry"][LEASE_KEY]
    return json.loads(key["Holder"]["data"])["run_id"]


def _let_the_lease_expire(sim) -> None:
    """60 s pass after the dead run's last renewal: the nodes' clocks are real, so its expiry is moved back."""
    for node in ("CLU1-A", "CLU1-B"):
        sim.drift({"action": "registry.set", "node": node, "path": LEASE_KEY, "name": "Expires",
                   "data": "2026-01-01T00:00:00+00:00", "type": "REG_SZ"})


def _respelled_inventory(sim, folder: Path) -> str:
    """The same cluster as another team writes it: other group, cluster and node names (addresses alike)."""
    text = (Path(_inventory(sim, folder))).read_text()
    for old, new in (("clu1:", "dtc_clusters:"), ("cluster_name: CLU1", "cluster_name: clu1.simlab.test"),
                     ("CLU1-A:", "clu1-a.simlab.test:"), ("CLU1-B:", "clu1-b.simlab.test:")):
        text = text.replace(old, new)
    path = folder / "respelled.yml"
    path.write_text(text)
    return str(path)


def test_two_applies_from_two_control_hosts_under_two_spellings_the_second_exits_5_naming_the_first(
        env, monkeypatch, capsys, tmp_path):
    """The local lock cannot see the other state directory nor the other spelling: the lease on the nodes does.
    The second run takes no step and leaves the first's lease in place; the first finishes and gives it back."""
    with simulate("healthy", auth="basic-http", time_scale=0.1) as sim:
        proc = _apply_process(_inventory(sim, env), env, sim.password)
        _wait_for(sim, _b_stopped, proc)
        first = _killed_run(sim)
        other = tmp_path / "other-control-host"
        other.mkdir()
        monkeypatch.setenv("ENFORCER_STATE_DIR", str(other / "state"))
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        changes = len(sim.journal.records("change"))
        assert main(["apply", RESTART, "-i", _respelled_inventory(sim, other), "--yes"]) == 5
        out = capsys.readouterr().out
        assert f"locked by run {first} of " in out and f"pid {proc.pid}" in out, out
        assert "during 'Restart the cluster service" in out, "the holder's step in flight is named"
        out_first, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out_first
        assert [r for r in sim.journal.records("change")[changes:] if r["object"] == "service:ClusSvc"], \
            "the first run went on"
        cluster = sim.state()["clusters"][0]
        assert [n["state"] for n in cluster["nodes"]] == ["Up", "Up"] and not started_out_of_turn(cluster)
        assert not any(n["registry"].get(LEASE_KEY) for n in cluster["nodes"])


ALICE = {"run_id": "20261201T000000Z-dead00", "user": "alice", "host": "jump1", "pid": 4242,
         "started": "2026-12-01T00:00:00+00:00", "step": None}


def _held_by_alice(sim) -> None:
    """CLU1's lease as a live run on another control host holds it (renewed: it expires in the future)."""
    for node in ("CLU1-A", "CLU1-B"):
        for name, data in (("Holder", json.dumps(ALICE)), ("Expires", "2099-01-01T00:00:00+00:00")):
            sim.drift({"action": "registry.set", "node": node, "path": LEASE_KEY, "name": name, "data": data,
                       "type": "REG_SZ"})


def test_an_apply_over_several_clusters_runs_those_it_can_lease_and_reports_the_others(env, monkeypatch, capsys):
    with simulate("healthy", clusters=2, auth="basic-http", time_scale=0.005) as sim:
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        _held_by_alice(sim)
        assert main(["apply", RESTART, "-i", _inventory(sim, env), "--yes"]) == 5
        out = capsys.readouterr().out
        assert "CLU1" in out and "locked by run 20261201T000000Z-dead00 of alice on jump1" in out
        restarted = {r["node"] for r in sim.journal.records("change") if r["object"] == "service:ClusSvc"}
        assert restarted == {"CLU2-A", "CLU2-B"}, "CLU2 ran; CLU1, leased by alice, was not touched"
        nodes = {n["name"]: n for c in sim.state()["clusters"] for n in c["nodes"]}
        assert json.loads(nodes["CLU1-A"]["registry"][LEASE_KEY]["Holder"]["data"]) == ALICE, "hers, still"
        assert not nodes["CLU2-A"]["registry"].get(LEASE_KEY), "CLU2's lease given back"


def test_plan_takes_no_lease_and_unlock_asks_removes_and_records(env, monkeypatch, capsys):
    with simulate("healthy", auth="basic-http", time_scale=0.005) as sim:
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        inventory = _inventory(sim, env)
        _held_by_alice(sim)
        assert main(["plan", RESTART, "-i", inventory]) == 0, "a plan neither takes nor minds the lease"
        assert {r["op"] for r in sim.journal.records("op")} == {"facts"}
        assert main(["apply", RESTART, "-i", inventory, "--yes"]) == 5
        assert "locked by run 20261201T000000Z-dead00 of alice on jump1 (pid 4242" in capsys.readouterr().out
        assert main(["unlock", "CLU1", "-i", inventory]) == 1, "not on a terminal, and no --yes"
        assert main(["unlock", "CLU1", "-i", inventory, "--yes"]) == 0
        assert "CLU1-A holds the lease of run 20261201T000000Z-dead00" in capsys.readouterr().out
        assert not any(n["registry"].get(LEASE_KEY) for n in sim.state()["clusters"][0]["nodes"])
        assert main(["history", "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert any(r["mode"] == "unlock" and "20261201T000000Z-dead00" in r["reason"] for r in rows)
        assert main(["apply", RESTART, "-i", inventory, "--yes"]) == 0


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


def _backups_recorded(state: Path) -> int:
    try:
        with sqlite3.connect(state / "history.db") as db:
            return db.execute("SELECT count(*) FROM backups").fetchone()[0]
    except sqlite3.OperationalError:  # not made yet
        return 0


def test_a_run_killed_mid_repair_is_in_history_as_killed_and_restorable_a_tampered_backup_refused(env, monkeypatch,
                                                                                                  capsys):
    """kill -9 after the repair exported MSDTC's keys: the run is in the history from its start, found dead; its
    backups were recorded with their SHA-256 as they were taken; restore puts back each one that is still the file
    the run took, and refuses one changed since."""
    with simulate("kb252641-broken", auth="basic-http", time_scale=0.1) as sim:
        proc = _apply_process(_inventory(sim, env), env, sim.password, REPAIR)
        enough = threading.Event()
        while not enough.is_set():  # the DTC log's archive and the two nodes' key exports
            if _backups_recorded(env / "state") >= 5:
                enough.set()
            elif proc.poll() is not None:
                raise AssertionError(f"enforcer exited early: {proc.stdout.read()}")
            else:
                enough.wait(0.01)
        proc.kill()
        proc.wait()

        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        assert main(["history", "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        (row,) = [r for r in rows if r["mode"] == "apply"]
        assert row["outcome"] == "killed" and f"pid {proc.pid}" in row["reason"]
        assert row["operator"] and row["control_host"] == socket.gethostname() and row["pid"] == str(proc.pid)
        assert len(row["playbook_sha256"]) == 64 and row["enforcer_version"]
        run_id = row["id"]

        tampered = next(b for b in History(env / "state" / "history.db").backups(run_id) if b["kind"] == "registry")
        assert len(tampered["sha256"]) == 64
        sim.drift({"action": "path.write", "node": tampered["node"], "path": tampered["file"],
                   "content": "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Evil]\r\n"})
        assert main(["restore", run_id, "--yes"]) == 5, "the dead run's lease is still within its 60 s"
        assert f"(run {run_id})" in capsys.readouterr().err
        _let_the_lease_expire(sim)
        unrecorded = next(b for b in History(env / "state" / "history.db").backups(run_id)
                          if b["kind"] == "registry" and b["node"] != tampered["node"])
        with sqlite3.connect(env / "state" / "history.db") as db:  # as if the run died before recording it
            db.execute("DELETE FROM backups WHERE record LIKE ?", (f"%{unrecorded['file'].split(chr(92))[-1]}%",))
        assert main(["restore", run_id, "--yes"]) == 1
        out = capsys.readouterr().out
        assert f"FAILED  {tampered['node']}: {tampered['path']}: refused: {tampered['file']} is not the file " \
               f"the run took" in out
        assert "HKLM\\SOFTWARE\\Evil" not in sim.state()["clusters"][0]["nodes"][0]["registry"]
        restored = [ln for ln in out.splitlines() if ln.startswith("ok ")]
        assert len(restored) == 2, out  # the other key exports; the DTC log is kept, never put back
        (unknown,) = [ln for ln in out.splitlines() if "NOT RESTORED" in ln]
        assert unrecorded["file"] in unknown and "whether it was taken is not recorded" in unknown, out
