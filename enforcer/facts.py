"""Gathering facts: ONE `facts` agent call per node, every node at once.

A converged run is this one round of calls and nothing else; a node that
cannot be reached is named, with why, and its cluster is not planned.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from .errors import AuthenticationFailed, EnforcerError, TransportError
from .lease import Leases
from .model import Cluster
from .transport.base import AgentOp
from .transport.pool import Connections


def by_cluster(clusters: list[Cluster], requests: dict[str, dict[str, Any]], connections: Connections, forks: int,
               release: bool = False, leases: Leases | None = None
               ) -> Iterator[tuple[Cluster, dict[str, dict[str, Any]], dict[str, str]]]:
    """Each cluster with its nodes' facts and unreachable nodes (-> reason), as soon as all its nodes answered.

    So the caller plans one cluster while the others are still being read.
    `release` closes each node's shell as soon as its facts are in, for a run
    that calls no node twice (a plan): the Delete then overlaps the other
    nodes' reads instead of forming a round of its own at the end. `leases`: take
    the run's lease on each cluster in the same calls (see lease.py).
    """
    def one(node: str, args: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
        cluster = cluster_of[node].name
        lease_ops = leases.ops_for(cluster, node) if leases else []
        answer = None
        try:
            if node in refused:
                return node, None, refused[node]
            results = connections.get(node).call([*lease_ops, AgentOp("facts", args, "facts")])
            answer = results[0] if lease_ops else None
            return node, results[-1].unwrap(node), None
        except TransportError as exc:
            return node, None, exc.detail
        except EnforcerError as exc:
            return node, None, f"facts could not be read: {exc}"
        finally:
            if leases:
                leases.answered(cluster, node, answer)
            if release:
                connections.reset(node)

    cluster_of = {node.name: cluster for cluster in clusters for node in cluster.nodes}
    # A cluster's first node ahead of its others: they wait for its lease answer, and must not wait on a
    # queued task.
    in_order = sorted(cluster_of, key=lambda node: not (leases and leases.is_first(cluster_of[node].name, node)))
    waiting = {cluster.name: len(cluster.nodes) for cluster in clusters}
    facts: dict[str, dict[str, dict[str, Any]]] = {cluster.name: {} for cluster in clusters}
    unreachable: dict[str, dict[str, str]] = {cluster.name: {} for cluster in clusters}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(cluster_of)))) as pool:
        refused = first_contacts(list(cluster_of), connections, pool)
        for future in as_completed([pool.submit(one, node, requests[node]) for node in in_order]):
            node, node_facts, reason = future.result()
            cluster = cluster_of[node]
            if reason is None:
                facts[cluster.name][node] = node_facts  # type: ignore[assignment]
            else:
                unreachable[cluster.name][node] = reason
            waiting[cluster.name] -= 1
            if not waiting[cluster.name]:
                yield cluster, facts[cluster.name], unreachable[cluster.name]


def first_contacts(nodes: list[str], connections: Connections, pool: ThreadPoolExecutor) -> dict[str, str]:
    """Authenticate first on one node per account, and on no other node with an account it rejected.

    A domain account is locked out after a few bad passwords: a wrong one tried on every node at once would
    lock it in one run. So each account is tried on its first node, alone (in parallel across accounts),
    and a rejection keeps every other node of that account from being tried. Returns node -> why not.
    """
    by_account: dict[tuple[str, ...], list[str]] = {}
    for node in nodes:
        by_account.setdefault(connections.account(node), []).append(node)

    def first_contact(account_nodes: list[str]) -> tuple[list[str], AuthenticationFailed | None]:
        try:
            connections.get(account_nodes[0]).open()
        except AuthenticationFailed as exc:
            return account_nodes, exc
        except EnforcerError:  # unreachable, say: the facts call says so, and another node may answer
            pass
        return account_nodes, None

    refused: dict[str, str] = {}
    for account_nodes, rejection in pool.map(first_contact, by_account.values()):
        if rejection is None:
            continue
        refused[account_nodes[0]] = rejection.detail
        for node in account_nodes[1:]:
            refused[node] = (f"not tried: the same credentials were rejected by {account_nodes[0]}, and trying them "
                             f"on every node could lock the account out")
    return refused


def gather(clusters: list[Cluster], requests: dict[str, dict[str, Any]], connections: Connections,
           forks: int) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(facts by node, unreachable node -> reason) of every cluster; `requests` maps a node to its facts op args."""
    facts: dict[str, dict[str, Any]] = {}
    unreachable: dict[str, str] = {}
    for _, cluster_facts, cluster_unreachable in by_cluster(clusters, requests, connections, forks):
        facts.update(cluster_facts)
        unreachable.update(cluster_unreachable)
    return facts, unreachable
