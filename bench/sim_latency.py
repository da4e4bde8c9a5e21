"""The simulator must not be what a benchmark measures.

Two figures, in one run:
- 100 sequential pywinrm `run_cmd('hostname')` against a node with 20 ms of
  injected latency, as a ratio to the floor (5 requests x 20 ms per call:
  Create, Command, Receive, Signal, Delete). Target: <= 1.3.
- how long a 2-cluster x 2-node NTLM simulation takes to be ready to answer
  (constructed, listening, and one authenticated command answered). Target: < 3 s.

Writes the figures under "simulator" in bench/results.json (not committed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import winrm

from enforcer.simulator import simulate

LATENCY_MS = 20
CALLS = 100
REQUESTS_PER_RUN_CMD = 5


def latency_ratio() -> dict:
    with simulate("healthy", auth="basic-http", latency_ms=LATENCY_MS) as sim:
        endpoint = sim.endpoints[0]
        session = winrm.Session(endpoint.url, auth=(sim.user, sim.password), transport="basic")
        session.run_cmd("hostname")  # warm up imports and the first connection
        before = sim.server.requests[endpoint.node]
        start = time.perf_counter()
        for _ in range(CALLS):
            assert session.run_cmd("hostname").status_code == 0
        wall = time.perf_counter() - start
        requests = sim.server.requests[endpoint.node] - before
    floor = CALLS * REQUESTS_PER_RUN_CMD * LATENCY_MS / 1000
    return {"calls": CALLS, "latency_ms": LATENCY_MS, "requests": requests, "wall_s": round(wall, 3),
            "floor_s": floor, "ratio": round(wall / floor, 3)}


def startup() -> dict:
    """In-process, then as a user starts it: `enforcer sim` until its first NTLM answer."""
    start = time.perf_counter()
    with simulate("kb252641-broken", clusters=2, nodes=2, auth="ntlm") as sim:
        endpoint = sim.endpoints[-1]
        winrm.Session(endpoint.url, auth=(sim.user, sim.password), transport="ntlm").run_cmd("hostname")
        ready = time.perf_counter() - start

    start = time.perf_counter()
    env = {**os.environ, "ENFORCER_SIM_PASSWORD": "bench-Passw0rd", "ENFORCER_STATE_DIR": tempfile.mkdtemp()}
    proc = subprocess.Popen([sys.executable, "-m", "enforcer", "sim", "--clusters", "2", "--auth", "ntlm"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        urls = []
        for line in proc.stdout:
            urls += re.findall(r"(http://\S+/wsman)$", line.strip())
            if line.startswith("serving"):
                break
        winrm.Session(urls[-1], auth=("enforcer", "bench-Passw0rd"), transport="ntlm").run_cmd("hostname")
        cli_ready = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()
    return {"clusters": 2, "nodes": 2, "auth": "ntlm", "ready_s": round(ready, 3),
            "cli_ready_s": round(cli_ready, 3)}


def main() -> None:
    figures = {"run_cmd_latency": latency_ratio(), "startup": startup()}
    lat, up = figures["run_cmd_latency"], figures["startup"]
    print(f"{'measure':<44}{'value':>12}{'target':>12}")
    print(f"{'100 x run_cmd(hostname) @20 ms, wall':<44}{lat['wall_s']:>11.2f}s{'':>12}")
    print(f"{'  floor (100 x 5 requests x 20 ms)':<44}{lat['floor_s']:>11.2f}s{'':>12}")
    print(f"{'  ratio to floor':<44}{lat['ratio']:>12.3f}{'<= 1.3':>12}")
    print(f"{'  HTTP requests':<44}{lat['requests']:>12}{'500':>12}")
    print(f"{'2x2 NTLM simulation ready to answer':<44}{up['ready_s']:>11.2f}s{'< 3 s':>12}")
    print(f"{'  as `enforcer sim`, process start included':<44}{up['cli_ready_s']:>11.2f}s{'< 3 s':>12}")
    path = Path(__file__).with_name("results.json")
    results = json.loads(path.read_text()) if path.exists() else {}
    results["simulator"] = figures
    path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
