"""`enforcer demo`: the whole story in under a minute, against a simulated cluster in-process.

It runs the same commands a user types — plan, apply --yes, plan — so what
the newcomer sees is the product, not a staged imitation of it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .console import Console
from .statedir import StateDir

PLAYBOOK = Path(__file__).resolve().parents[1] / "playbooks" / "msdtc_cluster_repair.yml"


def run_demo(console: Console) -> int:
    from .cli import build_parser
    from .simulator import PASSWORD_ENV, simulate

    if not PLAYBOOK.exists():
        console.err(f"the demo needs the playbooks of a source checkout; {PLAYBOOK} is missing")
        return 1
    state = StateDir()
    folder = state.demo
    journal = folder / "journal.jsonl"
    journal.unlink(missing_ok=True)
    started = time.monotonic()
    with simulate("kb252641-broken", auth="ntlm", time_scale=0.02, journal_path=str(journal)) as sim:
        inventory = folder / "inventory.yml"
        sim.write_inventory(str(inventory))
        os.environ[PASSWORD_ENV] = sim.password
        console.redact.add(sim.password)
        console.out(f"""enforcer demo
=============
A simulated two-node failover cluster (CLU1-A, CLU1-B) answers over WinRM with
NTLM on {sim.endpoints[0].host} and {sim.endpoints[1].host}. Both nodes show KB Q252641's symptom as
a modern node shows it: the clustered DTC cannot read its log on the shared disk,
its cluster resource is Failed, and the System log holds event 7024
(service-specific error 3221229574) with MSDTC's 4195 and 53313 beside it.
""")
        codes = []
        for title, argv in (
                ("1. The dry run: what would change, in which order", ["plan", "--detailed-exitcode"]),
                ("2. Apply it: live progress, then a recap per node", ["apply", "--yes"]),
                ("3. Plan again: the cluster now matches the playbook", ["plan", "--detailed-exitcode"])):
            console.out(f"\n{title}\n$ enforcer {argv[0]} {PLAYBOOK.relative_to(PLAYBOOK.parents[1])} "
                        f"-i {inventory} {' '.join(argv[1:])}\n")
            args = build_parser().parse_args([argv[0], str(PLAYBOOK), "-i", str(inventory), *argv[1:]])
            codes.append(args.run(args, console))
            console.out(f"(exit code {codes[-1]})")
        restarts = [f"{r['to'].lower().replace('running', 'start').replace('stopped', 'stop')} {r['node']}"
                    for r in sim.journal.records("change") if r["object"] == "service:ClusSvc"]
    applied = max((p.parent for p in state.runs.glob("*/run.json")), key=lambda p: p.stat().st_mtime)
    html = folder / "report.html"
    report = build_parser().parse_args(["report", applied.name, "--format", "html", "--out", str(html)])
    codes.append(report.run(report, console))
    console.out(f"""
The simulator's own journal of the cluster service: {', '.join(restarts)}.
HTML report of the repair (restart swimlane, backups, drift): {html}
Reports of every run:  {state.runs}  (enforcer report RUN_ID, enforcer history)
The simulator journal: {journal}
Done in {time.monotonic() - started:.1f} s.""")
    return 0 if codes == [2, 0, 0, 0] else 1
