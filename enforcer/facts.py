"""Gathering facts: ONE `facts` agent call per node, every node at once.

A converged run is this one round of calls and nothing else; a node that
cannot be reached is named, with why, and its cluster is not planned.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import EnforcerError, TransportError
from .model import Cluster
from .transport.base import AgentOp
from .transport.pool import Connections


def gather(clusters: list[Cluster], requests: dict[str, dict[str, Any]], connections: Connections,
           forks: int) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(facts by node, unreachable node -> reason); `requests` maps a node to its facts op args."""
    jobs = [(node.name, requests[node.name]) for cluster in clusters for node in cluster.nodes]
    facts: dict[str, dict[str, Any]] = {}
    unreachable: dict[str, str] = {}

    def one(job: tuple[str, dict[str, Any]]) -> None:
        node, args = job
        try:
            result = connections.get(node).call([AgentOp("facts", args, "facts")])[0]
            facts[node] = result.unwrap(node)
        except TransportError as exc:
            unreachable[node] = exc.detail
        except EnforcerError as exc:
            unreachable[node] = f"facts could not be read: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(jobs)))) as pool:
        list(pool.map(one, jobs))
    return facts, unreachable
