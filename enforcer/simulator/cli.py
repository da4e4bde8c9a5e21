"""`enforcer sim`: serve simulated clusters until SIGINT or SIGTERM.

Lives with the simulator, not the engine: the command only wires flags to
Simulation, and the simulator never imports the engine.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from . import AUTH_MODES, PASSWORD_ENV

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 4


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def add_sim_command(commands: Any) -> None:
    sim = commands.add_parser("sim", help="serve simulated Windows failover clusters over WinRM on loopback",
                              description="Serve simulated clusters until SIGINT or SIGTERM; write their inventory.")
    sim.add_argument("--scenario", default="kb252641-broken",
                     help="healthy, kb252641-broken, sql-installed, or a scenario .yml file")
    sim.add_argument("--clusters", type=int, default=1, help="number of clusters (default 1)")
    sim.add_argument("--nodes", type=int, default=2, help="nodes per cluster (default 2)")
    sim.add_argument("--first-cluster", type=int, default=1, metavar="N",
                     help="number the clusters from N (CLU<N> on 127.1.<N>.x), to run simulators side by side")
    sim.add_argument("--auth", choices=AUTH_MODES, default="ntlm")
    sim.add_argument("--credssp-tls", choices=("1.2", "1.3"), default="1.3",
                     help="with --auth credssp-*: the highest TLS version CredSSP negotiates (default 1.3)")
    sim.add_argument("--user", default="enforcer")
    sim.add_argument("--password", help="default: $ENFORCER_SIM_PASSWORD, else generated and printed once")
    sim.add_argument("--latency", type=_non_negative, default=0.0, metavar="MS", help="added to every request")
    sim.add_argument("--time-scale", type=_non_negative, default=0.05, metavar="F",
                     help="real seconds per simulated second (default 0.05)")
    sim.add_argument("--fault", action="append", default=[], metavar="SPEC",
                     help="node=NODE,on=TARGET,kind=KIND[,count=N][,ms=M]; repeatable")
    sim.add_argument("--journal", metavar="FILE", help="append every op and state change as JSON lines")
    sim.add_argument("--inventory-out", metavar="FILE", help="default: STATE_DIR/sim/inventory.yml")
    sim.add_argument("--control-port", type=int, default=0, metavar="P", help="default: a free port")
    sim.set_defaults(run=run_sim)


def _state_dir() -> Path:
    return Path(os.environ.get("ENFORCER_STATE_DIR") or Path.home() / ".local" / "state" / "enforcer")


def run_sim(args: argparse.Namespace, console: Any = None) -> int:
    from .faults import FaultSpecError
    from .kdc import KdcError
    from .scenarios import ScenarioError
    from .server import Simulation, krb5_conf_path

    password = args.password or os.environ.get("ENFORCER_SIM_PASSWORD")
    try:
        sim = Simulation(args.scenario, clusters=args.clusters, nodes=args.nodes, auth=args.auth, user=args.user,
                         password=password, latency_ms=args.latency, time_scale=args.time_scale, faults=args.fault,
                         journal_path=args.journal, control_port=args.control_port, first_cluster=args.first_cluster,
                         credssp_tls=args.credssp_tls)
    except (ScenarioError, FaultSpecError, ValueError) as exc:
        print(f"enforcer sim: {exc}", file=sys.stderr)
        return EXIT_INVALID
    inventory = Path(args.inventory_out) if args.inventory_out else _state_dir() / "sim" / "inventory.yml"
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        sim.start()
    except KdcError as exc:
        print(f"enforcer sim: {exc}", file=sys.stderr)
        sim.stop()
        return EXIT_FAILED
    try:
        inventory.parent.mkdir(parents=True, exist_ok=True)
        sim.write_inventory(str(inventory))
        print(f"enforcer sim: scenario {args.scenario}, {args.clusters} cluster(s) x {args.nodes} node(s), "
              f"auth {args.auth}, time scale {args.time_scale:g}")
        for endpoint in sim.endpoints:
            print(f"  {endpoint.cluster:<8} {endpoint.node:<10} {endpoint.url}")
        assert sim.control is not None, "--control-port is always set (default 0: a free port)"
        print(f"control:   http://127.0.0.1:{sim.control.port}  (GET /state, POST /faults, POST /drift)")
        print(f"inventory: {inventory}")
        if sim.kdc is not None:
            print(f"kerberos:  realm {sim.realm}, KDC 127.0.0.1:{sim.kdc.port}, user {sim.kdc.principal}")
            print(f"           export KRB5_CONFIG='{krb5_conf_path(str(inventory))}'")
        if not password:
            print(f"password (generated, shown once): export {PASSWORD_ENV}='{sim.password}'")
        print("serving until Ctrl-C or SIGTERM", flush=True)
        stop.wait()
    finally:
        sim.stop()
    return EXIT_OK
