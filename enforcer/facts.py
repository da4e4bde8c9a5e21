"""Gathering facts: ONE `facts` agent call per node, every node at once.

A converged run is this one round of calls and nothing else; a node that
cannot be reached is named, with why, and its cluster is not planned.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from .errors import EnforcerError, TransportError
from .model import Cluster
from .transport.base import AgentOp
from .transport.pool import Connections


def by_cluster(clusters: list[Cluster], requests: dict[str, dict[str, Any]], connections: Connections, forks: int,
               release: bool = False) -> Iterator[tuple[Cluster, dict[str, dict[str, Any]], dict[str, str]]]:
    """Each cluster with its nodes' facts and unreachable nodes (-> reason), as soon as all its nodes answered.

    So the caller plans one cluster while the others are still being read.
    `release` closes each node's shell as soon as its facts are in, for a run
    that calls no node twice (a plan): the Delete then overlaps the other
    nodes' reads instead of forming a round of its own at the end.
    """
    def one(node: str, args: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
        try:
            return node, connections.get(node).call([AgentOp("facts", args, "facts")])[0].unwrap(node), None
        except TransportError as exc:
            return node, None, exc.detail
        except EnforcerError as exc:
            return node, None, f"facts could not be read: {exc}"
        finally:
            if release:
                connections.reset(node)

    cluster_of = {node.name: cluster for cluster in clusters for node in cluster.nodes}
    waiting = {cluster.name: len(cluster.nodes) for cluster in clusters}
    facts: dict[str, dict[str, dict[str, Any]]] = {cluster.name: {} for cluster in clusters}
    unreachable: dict[str, dict[str, str]] = {cluster.name: {} for cluster in clusters}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(cluster_of)))) as pool:
        for future in as_completed([pool.submit(one, node, requests[node]) for node in cluster_of]):
            node, node_facts, reason = future.result()
            cluster = cluster_of[node]
            if reason is None:
                facts[cluster.name][node] = node_facts  # type: ignore[assignment]
            else:
                unreachable[cluster.name][node] = reason
            waiting[cluster.name] -= 1
            if not waiting[cluster.name]:
                yield cluster, facts[cluster.name], unreachable[cluster.name]


def gather(clusters: list[Cluster], requests: dict[str, dict[str, Any]], connections: Connections,
           forks: int) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(facts by node, unreachable node -> reason) of every cluster; `requests` maps a node to its facts op args."""
    facts: dict[str, dict[str, Any]] = {}
    unreachable: dict[str, str] = {}
    for _, cluster_facts, cluster_unreachable in by_cluster(clusters, requests, connections, forks):
        facts.update(cluster_facts)
        unreachable.update(cluster_unreachable)
    return facts, unreachable
