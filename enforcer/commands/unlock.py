"""`enforcer unlock CLUSTER`: remove a lease whose holder will not give it back (asks; recorded in history).

A lease expires by itself 60 s after its holder's last renewal, so this is
for an operator who cannot wait, or a holder whose renewals keep a lost run
alive; removing the lease of a run that is still working lets another run in
beside it, hence the question, with the holder named.
"""

from __future__ import annotations

import argparse
import getpass
import socket

from .. import api
from ..console import Console
from ..history import History
from ..lease import describe, holders, unlock
from ..planner import limited
from ..statedir import StateDir
from ..transport.pool import Connections
from .common import EXIT_FAILED, EXIT_OK, ask, credentials, read_inventory


def cmd_unlock(args: argparse.Namespace, console: Console) -> int:
    inventory = read_inventory(args, args.inventory, console)
    clusters = limited(inventory, args.cluster)
    credentials(inventory, console, getattr(args, "ask_pass", False))
    run_id = api.new_run_id()
    with Connections(inventory) as connections:
        for cluster in clusters:
            held = holders(cluster, connections)
            if not held:
                console.out(f"{cluster.name}: no lease is held")
                continue
            for node, (holder, expires) in held.items():
                console.out(f"{cluster.name}: {node} holds the lease of {describe(holder)}, expiring {expires}")
            if not (args.yes or ask(f"Remove the lease on {cluster.name}? A run still working there would go on "
                                    f"beside the next one.", console)):
                console.err("not unlocked")
                return EXIT_FAILED
            removed = unlock(cluster, connections)
            who = {describe(h) for _, h in removed if h} or {describe(h) for h, _ in held.values()}
            reason = f"lease of {', '.join(sorted(who))} removed by {getpass.getuser()} on {socket.gethostname()}"
            if not args.no_history:
                History(StateDir().history_db, console.redact).record_skip(
                    run_id, cluster.name, "-", inventory.source, "unlock", reason, outcome="unlocked")
            console.out(f"{cluster.name}: {reason}")
    return EXIT_OK
