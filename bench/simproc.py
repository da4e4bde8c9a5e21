"""`enforcer sim` in a process of its own, as the benchmarks drive it.

The simulator runs in its own process so that its CPU (NTLM, XML, the model)
is never counted as enforcer's, and so the two do not share one GIL. The
helper reads what `enforcer sim` prints (endpoints, control port, inventory)
and talks to the control endpoint (GET /requests, GET /journal) over loopback.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

PASSWORD = "Bench-Passw0rd-6"


def simulator_cpus() -> set[int] | None:
    """The core the simulators run on: the last one this process may use, when there are two or more.

    The simulated nodes stand for other machines: on a real network their CPU is
    not the enforcer host's. Here they share its cores, and a simulator process
    whose threads (one per connection, under one GIL) hop between cores spends
    about a quarter more CPU on wake-ups and cold caches, taken from enforcer.
    Kept on one core, the simulators leave the other(s) to enforcer, which is
    not pinned: it runs as a user would run it (bench/PROFILE.md, finding 15).
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    usable = sorted(os.sched_getaffinity(0))
    return {usable[-1]} if len(usable) > 1 else None


class SimProcess:
    def __init__(self, scenario: str = "healthy", *, clusters: int = 1, nodes: int = 2, auth: str = "ntlm",
                 latency_ms: float = 20.0, time_scale: float | None = None, workdir: str | None = None,
                 prefix: tuple[str, ...] = (), first_cluster: int = 1) -> None:
        """`prefix` goes before the interpreter (e.g. a profiler)."""
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="enforcer-bench-"))
        self.inventory = str(self.workdir / f"inventory-{scenario}-{first_cluster}-{clusters}.yml")
        # enforcer runs as installed: with its bytecode cached, as pip leaves it. A sandbox that sets
        # PYTHONDONTWRITEBYTECODE would have every run compile enforcer's modules again (~80 ms).
        self.env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                    "ENFORCER_SIM_PASSWORD": PASSWORD, "ENFORCER_PASSWORD": PASSWORD,
                    "ENFORCER_STATE_DIR": str(self.workdir / "state")}
        argv = [*prefix, sys.executable, "-m", "enforcer", "sim", "--scenario", scenario, "--clusters", str(clusters),
                "--nodes", str(nodes), "--auth", auth, "--latency", f"{latency_ms:g}",
                "--first-cluster", str(first_cluster), "--inventory-out", self.inventory]
        if time_scale is not None:
            argv += ["--time-scale", f"{time_scale:g}"]
        self.scenario, self.clusters, self.latency_ms = scenario, clusters, latency_ms
        self.time_scale = time_scale if time_scale is not None else 0.05
        self.endpoints: list[tuple[str, str, str]] = []  # (cluster, node, url)
        self.control = ""
        self.started = time.perf_counter()
        cpus = simulator_cpus()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
                                     preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            match = re.match(r"\s+(\S+)\s+(\S+)\s+(https?://\S+/wsman)$", line.rstrip())
            if match:
                self.endpoints.append(match.groups())  # type: ignore[arg-type]
            match = re.match(r"control:\s+(http://\S+)", line)
            if match:
                self.control = match.group(1)
            if line.startswith("serving"):
                break
        else:
            raise RuntimeError(f"enforcer sim did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.ready_s = time.perf_counter() - self.started

    @property
    def user(self) -> str:
        return "enforcer"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.control + path, timeout=60) as answer:
            return json.load(answer)

    def requests(self) -> dict[str, int]:
        return self.get("/requests")

    def journal(self) -> list[dict[str, Any]]:
        return self.get("/journal")

    def stop(self) -> dict[str, float]:
        """Stop the simulator; returns its CPU seconds (user, sys) as seen by the bench."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime}

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()


class SimFleet:
    """One fleet of clusters served by several `enforcer sim` processes, with one inventory for them all.

    A real fleet is hundreds of machines; one simulator process serving 400
    nodes on threads under one GIL becomes what a fleet benchmark measures
    (bench/PROFILE.md). Split by cluster (CLU1..CLUk in the first process, and
    so on), the simulators keep up, and enforcer is what is measured.
    """

    def __init__(self, scenario: str = "healthy", *, clusters: int, processes: int, **kwargs: Any) -> None:
        per = -(-clusters // processes)
        self.sims: list[SimProcess] = []
        try:
            for first in range(1, clusters + 1, per):
                self.sims.append(SimProcess(scenario, clusters=min(per, clusters - first + 1), first_cluster=first,
                                            **kwargs))
        except BaseException:
            self.close()
            raise
        lead = self.sims[0]
        self.workdir, self.env = lead.workdir, lead.env
        self.inventory = str(lead.workdir / f"inventory-{scenario}-fleet-{clusters}.yml")
        merged: dict[str, Any] = {}
        for sim in self.sims:
            data = yaml.safe_load(Path(sim.inventory).read_text())
            merged.setdefault("all", {"vars": data["all"]["vars"], "children": {}})
            merged["all"]["children"].update(data["all"]["children"])
        Path(self.inventory).write_text(yaml.safe_dump(merged, sort_keys=False))

    @property
    def pids(self) -> list[int]:
        return [sim.proc.pid for sim in self.sims]

    def requests(self) -> dict[str, int]:
        return {node: count for sim in self.sims for node, count in sim.requests().items()}

    def close(self) -> None:
        for sim in self.sims:
            sim.__exit__()

    def __enter__(self) -> SimFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {node: count - before.get(node, 0) for node, count in after.items() if count - before.get(node, 0)}
