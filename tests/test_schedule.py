"""Scheduled enforcement against the simulator: monitor, enforce, drift between runs, maintenance, stop."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from enforcer import api
from enforcer.cli import main
from enforcer.history import History
from enforcer.lifecycle import Recorder
from enforcer.schedule import Cadence, Schedule, Scheduler, in_window
from enforcer.simulator import PASSWORD_ENV

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")


@pytest.fixture
def start(cli_sim):
    return lambda scenario, **inventory_vars: cli_sim(scenario, inventory_vars=inventory_vars, auth="basic-http",
                                                      control_port=0)


def _rows(tmp_path: Path) -> list[dict]:
    return History(tmp_path / "state" / "history.db").runs()


def test_monitor_records_drift_changes_nothing_and_writes_metrics(start, tmp_path):
    sim, inventory = start("kb252641-broken")
    metrics = tmp_path / "enforcer.prom"
    assert main(["schedule", REPAIR, "-i", inventory, "--every", "0s", "--max-runs", "2", "--mode", "monitor",
                 "--metrics-file", str(metrics)]) == 0
    rows = _rows(tmp_path)
    assert [(r["mode"], r["outcome"], r["changes_pending"], r["changes_applied"]) for r in rows] == \
        [("monitor", "changes", 12, 0)] * 2
    assert not sim.journal.records("change"), "monitor changes nothing"
    text = metrics.read_text()
    assert 'enforcer_changes_pending{cluster="CLU1"} 12.0' in text
    assert 'enforcer_last_run_outcome{cluster="CLU1",outcome="changes"} 1.0' in text


def _scheduler(inventory: str, mode: str, tmp_path: Path) -> Scheduler:
    schedule = Schedule(api.Options(REPAIR, inventory), Cadence(every_s=0), mode, max_runs=1)
    return Scheduler(schedule, Recorder.open(lambda text: text), lambda line: None, threading.Event())


def test_enforce_corrects_drift_introduced_between_runs(start, tmp_path):
    sim, inventory = start("healthy")
    scheduler = _scheduler(inventory, "enforce", tmp_path)
    scheduler.run_round()
    drift = json.dumps({"action": "group.set", "cluster": "CLU1", "name": "ClusterDTC", "state": "Offline"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{sim.control.port}/drift", data=drift, method="POST")
    assert urllib.request.urlopen(request, timeout=10).status == 200
    scheduler.run_round()
    rows = _rows(tmp_path)
    assert [(r["mode"], r["outcome"], r["changes_applied"]) for r in rows] == [("enforce", "ok", 0),
                                                                             ("enforce", "changed", 1)]
    assert sim.cluster("CLU1").group("ClusterDTC").state == "Online"
    steps = History(tmp_path / "state" / "history.db").steps(rows[1]["id"])
    assert [(s["type"], s["outcome"]) for s in steps] == [("cluster_group", "changed")]


def test_a_paused_node_makes_the_run_skip_with_its_reason(start, tmp_path):
    sim, inventory = start("kb252641-broken")
    sim.drift({"action": "node.pause", "node": "CLU1-A"})
    _scheduler(inventory, "enforce", tmp_path).run_round()
    (row,) = _rows(tmp_path)
    assert (row["outcome"], row["reason"]) == ("skipped", "node CLU1-A is Paused")
    assert not sim.journal.records("change")


def test_outside_its_enforce_window_enforce_only_monitors(start, tmp_path):
    elsewhere = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][(dt.datetime.now().weekday() + 3) % 7]
    sim, inventory = start("kb252641-broken", enforce_window=f"{elsewhere} 02:00-04:00")
    _scheduler(inventory, "enforce", tmp_path).run_round()
    (row,) = _rows(tmp_path)
    assert (row["mode"], row["outcome"], row["changes_applied"]) == ("monitor", "changes", 0)
    assert not sim.journal.records("change")


@pytest.mark.parametrize("window,moment,inside", [
    ("Sat 02:00-04:00", "2026-11-28 03:00", True), ("Sat 02:00-04:00", "2026-11-28 04:00", False),
    ("Mon-Fri 22:00-06:00", "2026-11-24 23:30", True), ("Mon-Fri 22:00-06:00", "2026-11-28 05:00", True),
    ("Mon-Fri 22:00-06:00", "2026-11-29 05:00", False), ("daily 01:00-02:00, Sun 10:00-11:00", "2026-11-29 10:30",
                                                        True), (None, "2026-11-29 10:30", True),
])
def test_enforce_windows(window, moment, inside):
    assert in_window(window, dt.datetime.fromisoformat(moment), "test") is inside


def test_sigterm_stops_the_loop_cleanly_between_runs(start, tmp_path):
    sim, inventory = start("healthy")
    env = {**os.environ, "ENFORCER_STATE_DIR": str(tmp_path / "state"), PASSWORD_ENV: sim.password}
    proc = subprocess.Popen([sys.executable, "-m", "enforcer", "schedule", REPAIR, "-i", inventory, "--every", "1h"],
                            stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:  # the loop says when each cluster's run is recorded
        if line.startswith("CLU1: monitor"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped after 1 round(s)" in err
    assert len(_rows(tmp_path)) == 1


def test_print_systemd_gives_a_service_and_timer(start, capsys):
    sim, inventory = start("healthy")
    assert main(["schedule", REPAIR, "-i", inventory, "--cron", "*/15 * * * *", "--mode", "enforce",
                 "--print-systemd"]) == 0
    units = capsys.readouterr().out
    assert "[Service]\nType=oneshot" in units and "--mode enforce --max-runs 1" in units
    assert "OnCalendar=*-*-* *:0/15:00" in units and "WantedBy=timers.target" in units
    assert main(["schedule", REPAIR, "-i", inventory, "--every", "15m", "--print-systemd"]) == 0
    units = capsys.readouterr().out
    assert "OnUnitActiveSec=900s" in units and f"User={getpass.getuser()}" in units
    name = re.search(r"# /etc/systemd/system/(enforcer-monitor-msdtc_cluster_repair-inventory-[0-9a-f]{8})\.service",
                     units)
    assert name and f"# /etc/systemd/system/{name.group(1)}.timer" in units, units


@pytest.mark.parametrize("argv,expected", [
    (["--every", "15m", "--cron", "* * * * *"], "exactly one of"), ([], "exactly one of"),
    (["--cron", "every tuesday"], "expected a cron expression"), (["--every", "soon"], "expected a duration"),
    (["--every", "1m", "--max-runs", "0"], "--max-runs must be at least 1"),
    (["--every", "5s"], "at least 60s between rounds"),
])
def test_bad_schedules_exit_4(start, capsys, argv, expected):
    sim, inventory = start("healthy")
    assert main(["schedule", REPAIR, "-i", inventory, *argv]) == 4
    assert expected in capsys.readouterr().err


def test_history_lists_runs_and_every_plan_records(start, tmp_path, capsys):
    sim, inventory = start("kb252641-broken")
    assert main(["plan", REPAIR, "-i", inventory]) == 0
    assert main(["plan", REPAIR, "-i", inventory, "--no-history"]) == 0
    assert main(["apply", REPAIR, "-i", inventory, "--yes"]) == 0
    capsys.readouterr()
    assert main(["history", "--cluster", "CLU1", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["mode"], r["outcome"], r["changes_pending"], r["changes_applied"]) for r in rows] == [
        ("plan", "changes", 12, 0), ("apply", "changed", 12, 12)]
    assert main(["history", "--since", "1h"]) == 0
    assert "apply" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "state" / "history.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_round_that_could_not_look_says_so_in_its_log_history_and_metrics(start, tmp_path, monkeypatch, capsys):
    """Rejected credentials are not "0 changes pending": the round's line, its history row and the metrics
    all say the cluster was not checked, and why."""
    sim, inventory = start("kb252641-broken")
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    metrics = tmp_path / "enforcer.prom"
    assert main(["schedule", REPAIR, "-i", inventory, "--every", "0s", "--max-runs", "1", "--mode", "monitor",
                 "--metrics-file", str(metrics)]) == 0
    logged = capsys.readouterr()
    line = next(ln for ln in (logged.out + logged.err).splitlines() if ln.startswith("CLU1: monitor:"))
    assert "NOT CHECKED: unreachable: CLU1-A: the credentials of" in line and "were rejected" in line, line
    assert "pending" not in line
    assert [r["outcome"] for r in _rows(tmp_path)] == ["unreachable"]
    assert 'enforcer_last_run_outcome{cluster="CLU1",outcome="unreachable"} 1.0' in metrics.read_text()
