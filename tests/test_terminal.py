"""An operator's terminal: colours on a TTY (a real pseudo-terminal), none with NO_COLOR or into a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from enforcer.simulator import PASSWORD_ENV

ROOT = Path(__file__).resolve().parents[1]
REPAIR = str(ROOT / "playbooks" / "msdtc_cluster_repair.yml")
RED, YELLOW = "\033[31m", "\033[33m"


def _plan_on_a_terminal(inventory: str, password: str, tmp_path: Path, **env: str) -> str:
    """`enforcer plan` with its stdout and stderr on a pseudo-terminal; what the terminal showed."""
    master, slave = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment.update({PASSWORD_ENV: password, "ENFORCER_STATE_DIR": str(tmp_path / "state"), "TERM": "xterm",
                        **env})
    proc = subprocess.Popen([sys.executable, "-m", "enforcer", "plan", REPAIR, "-i", inventory],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=environment)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0, shown.decode(errors="replace")
    return shown.decode()


def test_colours_on_a_terminal_and_none_with_no_color_or_a_pipe(cli_sim, tmp_path):
    sim, inventory = cli_sim("kb252641-broken", auth="basic-http")
    shown = _plan_on_a_terminal(inventory, sim.password, tmp_path)
    destructive = next(ln for ln in shown.splitlines() if "(destructive" in ln)
    disruptive = next(ln for ln in shown.splitlines() if "(disruptive)" in ln)
    assert destructive.startswith(RED) and disruptive.startswith(YELLOW)
    assert "\033[" not in _plan_on_a_terminal(inventory, sim.password, tmp_path, NO_COLOR="1")
    piped = subprocess.run([sys.executable, "-m", "enforcer", "plan", REPAIR, "-i", inventory], capture_output=True,
                           text=True, env={**os.environ, PASSWORD_ENV: sim.password,
                                           "ENFORCER_STATE_DIR": str(tmp_path / "state"), "TERM": "xterm"})
    assert "(destructive" in piped.stdout and "\033[" not in piped.stdout + piped.stderr


def test_a_step_that_takes_a_while_says_so_while_it_runs(cli_sim, capsys):
    """The ordered restart takes 26 simulated seconds, about 3 s here: at default verbosity a line says it is
    under way (the simulator's scaled time decides how long it takes, not a sleep in the test)."""
    from enforcer.cli import main

    _, inventory = cli_sim("healthy", auth="basic-http", time_scale=0.12)
    assert main(["apply", str(ROOT / "playbooks" / "cluster_ordered_restart.yml"), "-i", inventory, "--yes"]) == 0
    err = capsys.readouterr().err.splitlines()
    started = [ln for ln in err if "Restart the cluster service" in ln and "started, running for 2 s" in ln]
    assert started, err
    assert err.index(started[0]) < next(i for i, ln in enumerate(err) if ln.startswith("changed"))
