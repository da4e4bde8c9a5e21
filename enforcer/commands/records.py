"""restore, history, report: what runs did, and undoing it."""

from __future__ import annotations

import argparse
import json
import socket

from .. import api
from ..audit import process_alive
from ..console import Console
from ..history import History, now, parse_since
from ..lease import Leases
from ..lifecycle import held
from ..report.html import render_html
from ..restore import load_backups, restore
from ..runs import load_record, record_kind
from ..statedir import StateDir
from .common import EXIT_FAILED, EXIT_OK, ask, credentials, emit, read_inventory


def cmd_restore(args: argparse.Namespace, console: Console) -> int:
    state = StateDir()
    used, backups, unknown = load_backups(state, args.run_id, args.only, History(state.history_db, console.redact))
    inventory = read_inventory(args, args.inventory or used, console)
    credentials(inventory, console, getattr(args, "ask_pass", False))
    console.out(f"restore of run {args.run_id}: {len(backups)} backup(s)")
    console.out("\n".join(f"  {b['node']}: {b['kind']} {b['path']} <- {b['file']}" for b in backups))
    for line in unknown:
        console.out(f"  NOT RESTORED {line}")
    if not args.yes and not ask(f"Restore {len(backups)} item(s), overwriting what is there now?", console):
        return EXIT_FAILED
    nodes = {b["node"] for b in backups}
    clusters = [c for c in inventory.clusters if nodes & set(c.node_names)]
    run_id = f"restore-{api.new_run_id()}"
    with held(inventory, [c.name for c in clusters], run_id, state) as (_, connections):
        leases = Leases(run_id, now(), clusters, connections)
        leases.take()
        try:
            results = restore(backups, connections)
        finally:
            leases.release_all()
    for result in results:
        label = "ok     " if result.ok else "kept   " if result.kept else "FAILED "
        console.out(f"{label} {result.backup['node']}: {result.backup['path']}: {result.message}")
    restored = [r for r in results if not r.kept]
    return EXIT_OK if restored and all(r.ok for r in restored) else EXIT_FAILED


def cmd_history(args: argparse.Namespace, console: Console) -> int:
    history = History(StateDir().history_db, console.redact)
    history.mark_dead(socket.gethostname(), process_alive)
    rows = history.runs(args.cluster, parse_since(args.since) if args.since else None)
    if args.format == "json":
        console.out(json.dumps(rows, indent=2))
        return EXIT_OK
    header = f"{'RUN':<25} {'CLUSTER':<10} {'MODE':<8} {'STARTED':<26} {'OUTCOME':<12} {'PENDING':>7} {'APPLIED':>7}"
    lines = [header] + [f"{r['id']:<25} {r['cluster']:<10} {r['mode']:<8} {r['started']:<26} {r['outcome']:<12} "
                        f"{r['changes_pending']:>7} {r['changes_applied']:>7}" + (f"  {r['reason']}" if r['reason']
                                                                                     else "") for r in rows]
    console.out("\n".join(lines) if rows else "no runs recorded" + (f" for {args.cluster}" if args.cluster else ""))
    return EXIT_OK


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """A saved plan or run, as JSON or Markdown (as saved) or as one self-contained HTML file."""
    state = StateDir()
    kind = record_kind(state, args.run_id)
    folder = state.run(args.run_id)
    if args.format == "html":
        plan_doc = load_record(state, args.run_id, "plan")
        run_doc = load_record(state, args.run_id, "run") if kind == "run" else None
        history = History(state.history_db, console.redact)
        rendered = render_html(plan_doc, run_doc, {  # the drift of this playbook: another one's runs are not its drift
            c["name"]: [r for r in history.runs(c["name"]) if r["playbook"] == plan_doc["playbook"]]
            for c in plan_doc["clusters"]})
    else:
        rendered = (folder / f"{kind}.{'json' if args.format == 'json' else 'md'}").read_text(encoding="utf-8")
    emit(rendered, args.out, console, f"{kind} report")
    return EXIT_OK
