"""restore, history, report: what runs did, and undoing it."""

from __future__ import annotations

import argparse
from typing import Any

from ..console import Console
from ..inventory import load_inventory
from ..locks import ClusterLocks
from ..restore import load_backups, restore
from ..runs import state_dir
from ..transport.pool import Connections
from .common import EXIT_FAILED, EXIT_OK, ask, credentials


def cmd_restore(args: argparse.Namespace, console: Console, connections_factory: Any = Connections) -> int:
    used, backups = load_backups(args.run_id, args.only)
    inventory = load_inventory(args.inventory or used)
    credentials(inventory, console)
    console.out(f"restore of run {args.run_id}: {len(backups)} backup(s)")
    console.out("\n".join(f"  {b['node']}: {b['kind']} {b['path']} <- {b['file']}" for b in backups))
    if not args.yes and not ask(f"Restore {len(backups)} item(s), overwriting what is there now?", console):
        return EXIT_FAILED
    with ClusterLocks(state_dir() / "locks", [c.name for c in inventory.clusters], f"restore-{args.run_id}"), \
            connections_factory(inventory) as connections:
        results = restore(backups, connections)
    for result in results:
        console.out(f"{'ok     ' if result.ok else 'FAILED '} {result.backup['node']}: {result.backup['path']}: "
                    f"{result.message}")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
