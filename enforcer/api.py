"""What the CLI, the scheduler and tests call: load, plan, apply, facts.

`load()` does every check that needs no node (inventory, playbook, vars,
templates, --limit) so bad input fails before the first connection. `plan()`
gathers facts (one agent call per node) and plans; `apply()` carries a plan
out. A dry run is `plan()` alone: apply runs the very plan it was shown.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from . import executor, facts as facts_mod
from .enforce_window import check_windows
from .errors import InputError
from .inventory import load_inventory
from .lease import Leases, describe
from .model import Cluster, ClusterPlan, Inventory, Plan, Playbook, RunResult
from .planner import Selection, fact_requests, limited, plan_cluster, selected
from .playbook import load_playbook, parse_extra_vars, validate_names
from .templating import undeclared
from .transport.pool import Connections


@dataclass
class Options:
    playbook: str
    inventory: str
    extra_vars: list[str] = field(default_factory=list)
    limit: str | None = None
    tags: set[str] = field(default_factory=set)
    skip_tags: set[str] = field(default_factory=set)
    forks: int = 10
    vault_secrets: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Loaded:
    """A validated playbook and inventory, and what each cluster's facts call must ask for."""

    playbook: Playbook
    inventory: Inventory
    selection: Selection
    clusters: list[Cluster]
    fact_requests: dict[str, dict[str, Any]]  # node -> args of its facts op
    forks: int


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def inventory_var_names(inventory: Inventory) -> set[str]:
    names = {k for c in inventory.clusters for k in c.vars}
    return names | {k for c in inventory.clusters for n in c.nodes for k in n.vars}


def load(options: Options) -> Loaded:
    if options.forks < 1:
        raise InputError(f"--forks must be at least 1, not {options.forks}")
    inventory = load_inventory(options.inventory, options.vault_secrets)
    playbook = load_playbook(options.playbook)
    extra_vars = parse_extra_vars(options.extra_vars)
    for name, value in extra_vars.items():  # a template in -e is checked like the playbook's (bounds, syntax)
        undeclared(value, f"-e {name}")
    limited(inventory, options.limit)  # a --limit that cannot be read, or selects nothing: before any connection
    validate_names(playbook, inventory_var_names(inventory) | set(extra_vars))
    selection = Selection(extra_vars, options.limit, set(options.tags), set(options.skip_tags))
    plays_of = {c.name: [p for p in playbook.plays if selected(p, c, inventory, selection)] for c in inventory.clusters}
    clusters = [c for c in inventory.clusters if plays_of[c.name]]
    if not clusters:
        raise InputError(f"no cluster of {inventory.source} matches the plays' hosts "
                         f"({', '.join(p.hosts for p in playbook.plays)})" +
                         (f" and --limit {options.limit!r}" if options.limit else ""), playbook.plays[0].location)
    check_windows([(c.vars.get("enforce_window"), f"{inventory.source}: cluster {c.name}") for c in clusters]
                  + [(p.vars.get("enforce_window"), p.location) for p in playbook.plays])
    requests: dict[str, dict[str, Any]] = {}
    for cluster in clusters:
        requests.update(fact_requests(plays_of[cluster.name], cluster, selection))
    return Loaded(playbook, inventory, selection, clusters, requests, options.forks)


def plan(loaded: Loaded, connections: Connections, run_id: str, release: bool = False,
         leases: Leases | None = None) -> Plan:
    """Read every node and plan each cluster as its facts arrive; `release`: close shells once read (plan only);
    `leases`: take the run's lease on each cluster with its facts, and plan none whose lease another run holds."""
    planned: dict[str, ClusterPlan] = {}
    unreachable: dict[str, str] = {}
    locked: dict[str, dict[str, Any]] = {}
    for cluster, node_facts, down in facts_mod.by_cluster(loaded.clusters, loaded.fact_requests, connections,
                                                          loaded.forks, release, leases):
        unreachable.update(down)
        if leases:
            leases.settle(cluster.name, plannable=not down)
        if leases and cluster.name in leases.refused:
            locked[cluster.name] = leases.refused[cluster.name]
            planned[cluster.name] = ClusterPlan(cluster.name, cluster.node_names,
                                                error="locked by " + describe(locked[cluster.name]))
        elif down:
            planned[cluster.name] = ClusterPlan(cluster.name, cluster.node_names, error="unreachable: " + "; ".join(
                f"{n}: {down[n]}" for n in cluster.node_names if n in down))
        else:
            planned[cluster.name] = plan_cluster(loaded.playbook, cluster, loaded.inventory,
                                                 {n: node_facts[n] for n in cluster.node_names}, loaded.selection,
                                                 run_id)
    ordered = {n: unreachable[n] for c in loaded.clusters for n in c.node_names if n in unreachable}
    return Plan(loaded.playbook.source, loaded.inventory.source, [planned[c.name] for c in loaded.clusters], ordered,
                locked)


def apply(plan_: Plan, connections: Connections, run_id: str, forks: int,
          observer: executor.RunObserver | None = None, stop: threading.Event | None = None) -> RunResult:
    return executor.execute(plan_, run_id, connections, forks, observer, stop)


def gather_facts(inventory: Inventory, limit: str | None, forks: int = 10) -> tuple[dict[str, Any], dict[str, str]]:
    """`enforcer facts`: what the agent sees on every node, with the default fact set."""
    clusters = limited(inventory, limit)
    requests: dict[str, dict[str, Any]] = {}
    for cluster in clusters:
        requests.update(fact_requests([], cluster, Selection(limit=limit)))
    with Connections(inventory, forks) as connections:
        return facts_mod.gather(clusters, requests, connections, forks)

