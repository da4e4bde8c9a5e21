"""facts, validate, inventory, doctor: looking without changing."""

from __future__ import annotations

import argparse
import dataclasses
import json

from .. import api, doctor
from ..console import Console
from ..inventory import describe
from ..planner import limited
from ..playbook import load_playbook, parse_extra_vars, validate_names
from ..transport.pool import Connections
from .common import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, credentials, read_inventory


def cmd_facts(args: argparse.Namespace, console: Console) -> int:
    inventory = read_inventory(args, args.inventory, console)
    credentials(inventory, console, getattr(args, "ask_pass", False))
    facts, unreachable = api.gather_facts(inventory, args.limit)
    console.out(json.dumps({"facts": facts, "unreachable": unreachable}, indent=2, default=str))
    return EXIT_UNREACHABLE if unreachable else EXIT_OK


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    playbook = load_playbook(args.playbook)
    extra = parse_extra_vars(args.extra_vars)
    if args.inventory:
        inventory = read_inventory(args, args.inventory, console)
        validate_names(playbook, api.inventory_var_names(inventory) | set(extra))
        where = f" against {args.inventory} ({len(inventory.clusters)} cluster(s))"
    else:
        where = " (names read from an inventory were not checked: pass -i)"
    tasks = sum(len(p.tasks) + len(p.handlers) for p in playbook.plays)
    console.out(f"{args.playbook}: valid, {len(playbook.plays)} play(s), {tasks} task(s){where}")
    return EXIT_OK


def cmd_inventory(args: argparse.Namespace, console: Console) -> int:
    inventory = read_inventory(args, args.inventory, console)
    if args.limit:
        inventory = dataclasses.replace(inventory, clusters=limited(inventory, args.limit))
    view = describe(inventory)
    if args.format == "json":
        console.out(json.dumps(view, indent=2))
        return EXIT_OK
    lines = [f"inventory {inventory.source}: {len(inventory.clusters)} cluster(s)"]
    for cluster in view["clusters"]:
        lines.append(f"cluster {cluster['name']} (group {cluster['group']})")
        lines += [f"  {n['order']}  {n['name']:<16} {n['endpoint']:<40} {n['transport']:<6} user={n['user'] or '-'} "
                  f"password={n['password']}" + ("" if n["cert_validation"] else "  cert validation OFF")
                  for n in cluster["nodes"]]
    lines += [f"WARNING: {w}" for w in view["warnings"]]
    console.out("\n".join(lines))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    """Exit 0 when every node passes, 3 when one cannot be reached or logged in to, 1 for any other failure."""
    inventory = read_inventory(args, args.inventory, console)
    clusters = limited(inventory, args.limit)
    credentials(inventory, console, getattr(args, "ask_pass", False))
    with Connections(inventory, args.forks) as connections:
        reports = doctor.diagnose(clusters, connections, args.forks)
    if args.format == "json":
        console.out(json.dumps(doctor.as_json(reports), indent=2))
    else:
        for report in reports:
            console.out(f"{report.node} ({report.cluster}, {report.endpoint})")
            for v in report.verdicts:
                console.out(f"  {v.status:<5} {v.check:<15} {v.detail}" + (f"\n{'':<23}fix: {v.hint}" if v.hint and
                                                                             v.status != "ok" else ""))
        bad = [r.node for r in reports if r.failed]
        console.out(f"\n{len(reports) - len(bad)} of {len(reports)} node(s) ready" +
                    (f"; not ready: {', '.join(bad)}" if bad else ""))
    if any(r.unreachable for r in reports):
        return EXIT_UNREACHABLE
    return EXIT_FAILED if any(r.failed for r in reports) else EXIT_OK
