"""facts, validate, inventory: looking without changing."""

from __future__ import annotations

import argparse
import json

from .. import api
from ..console import Console
from ..inventory import describe, load_inventory
from ..playbook import load_playbook, parse_extra_vars, validate_names
from .common import EXIT_OK, EXIT_UNREACHABLE, credentials


def cmd_facts(args: argparse.Namespace, console: Console) -> int:
    inventory = load_inventory(args.inventory)
    credentials(inventory, console)
    facts, unreachable = api.gather_facts(inventory, args.limit)
    console.out(json.dumps({"facts": facts, "unreachable": unreachable}, indent=2, default=str))
    return EXIT_UNREACHABLE if unreachable else EXIT_OK


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    playbook = load_playbook(args.playbook)
    extra = parse_extra_vars(args.extra_vars)
    if args.inventory:
        inventory = load_inventory(args.inventory)
        validate_names(playbook, api.inventory_var_names(inventory) | set(extra))
        where = f" against {args.inventory} ({len(inventory.clusters)} cluster(s))"
    else:
        where = " (names read from an inventory were not checked: pass -i)"
    tasks = sum(len(p.tasks) + len(p.handlers) for p in playbook.plays)
    console.out(f"{args.playbook}: valid, {len(playbook.plays)} play(s), {tasks} task(s){where}")
    return EXIT_OK


def cmd_inventory(args: argparse.Namespace, console: Console) -> int:
    inventory = load_inventory(args.inventory)
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
