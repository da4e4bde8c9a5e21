"""Node sequences for cluster-wide actions. Pure functions: no I/O, easy to test.

The rule behind the ordered restart (KB Q252641 step 5): the node that goes
down last holds the newest cluster database, so it must come up first. For
nodes in inventory order [A, B, ...] the cluster service stops in reverse
order and starts in forward order: stop B, stop A, start A, start B. The
same rule governs recovery: while no node runs, only the node that stopped
last may start the cluster, unless a disk witness holds the newest copy.
"""

from __future__ import annotations

Step = tuple[str, str]  # ("stop" | "start", node)


def restart_sequence(nodes: list[str]) -> list[Step]:
    """[A, B, C] -> stop C, stop B, stop A, start A, start B, start C."""
    return [("stop", n) for n in reversed(nodes)] + [("start", n) for n in nodes]


def recovery_sequence(done: list[Step]) -> list[Step]:
    """After a failure: start every node this run stopped and has not started, last stopped first."""
    stopped = [node for verb, node in done if verb == "stop"]
    started = {node for verb, node in done if verb == "start"}
    return [("start", node) for node in reversed(stopped) if node not in started]


def failover_tour(nodes: list[str], owner: str) -> list[str]:
    """Every other node in inventory order, then back to where the group started."""
    return [n for n in nodes if n != owner] + [owner]


def describe(steps: list[Step]) -> str:
    return ", ".join(f"{verb} {node}" for verb, node in steps)
