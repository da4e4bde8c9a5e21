"""Host patterns as Ansible reads them, in a play's `hosts:` and in `--limit` (ansible-core's InventoryManager).

- Terms are separated by `,`, or by `:` when there is no comma (so `all:!CLU2` and `all,!CLU2` mean the same).
- A term is a group or host name, a shell wildcard (`clu*`), or `~` and a regular expression matched from the
  start of the names; `name[0]`, `name[1:2]` (also `1-2`) take hosts of what the name selects by position.
- Terms without a prefix are unions, in order; then every `&term` intersects, and every `!term` excludes,
  whatever their place (ansible-core's order_patterns). Only `&` and `!` terms: they apply to `all`.
- A group term takes the group's hosts and those of its children; a wildcard or regular expression is also
  tried on host names, and a plain name that names no group is looked up as a host.

enforcer acts on whole clusters, so it asks more than Ansible does: a term that selects nothing is invalid
input (a misspelt exclusion must not widen a run), so is a pattern that selects part of a cluster's nodes,
and a cluster's `cluster_name` is accepted beside its group's name (`!CLU2` as well as `!clu2`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from .errors import InputError
from .model import Cluster, Inventory

_SUBSCRIPT = re.compile(r"^(.+)\[(-?\d+)(?:([:-])(-?\d*))?\]$")
_UNSUPPORTED = re.compile(r"[\s{}]")


def split_pattern(pattern: str) -> list[str]:
    """ansible-core's split_host_pattern, for the names an inventory of clusters holds (no IPv6 literals)."""
    if "," in pattern:
        return [p.strip() for p in pattern.split(",") if p.strip()]
    return re.findall(r"(?:[^\s:\[\]]|\[[^\]]*\])+", pattern)


def selected_clusters(pattern: str, inventory: Inventory, where: str) -> list[Cluster]:
    """The clusters `pattern` selects, each whole; InputError (`where` names the pattern's source) when a term
    selects nothing, when a cluster is selected in part, or when the pattern cannot be read."""
    hosts = set(select_hosts(pattern, inventory, where))
    chosen = []
    for cluster in inventory.clusters:
        taken = [n for n in cluster.node_names if n in hosts]
        if taken and len(taken) < len(cluster.nodes):
            left = [n for n in cluster.node_names if n not in hosts]
            raise InputError(f"{where}: {pattern!r} selects {', '.join(taken)} but not {', '.join(left)} of cluster "
                             f"{cluster.name}: enforcer acts on whole clusters")
        if taken:
            chosen.append(cluster)
    return chosen


def select_hosts(pattern: str, inventory: Inventory, where: str) -> list[str]:
    """The hosts `pattern` selects, in inventory order."""
    terms = split_pattern(pattern)
    if not terms:
        raise InputError(f"{where}: the host pattern {pattern!r} names nothing")
    if "," not in pattern and ":".join(terms) != pattern.strip():  # a character the split could not place
        raise InputError(f"{where}: the host pattern {pattern!r} is not a pattern enforcer reads (names, wildcards, "
                         f"~regex, name[i] or name[i:j], joined by ':' or ',' with & and !)")
    plain = [t for t in terms if t[0] not in "!&"] or ["all"]
    ordered = plain + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]
    chosen: dict[str, None] = {}
    for term in ordered:
        matched = _term_hosts(term.lstrip("!&"), inventory, where, pattern)
        if term[0] == "!":
            chosen = {h: None for h in chosen if h not in matched}
        elif term[0] == "&":
            chosen = {h: None for h in chosen if h in matched}
        else:
            chosen.update(dict.fromkeys(matched))
    order = {n: i for i, n in enumerate(n for c in inventory.clusters for n in c.node_names)}
    return sorted(chosen, key=lambda h: order.get(h, len(order)))


def _term_hosts(term: str, inventory: Inventory, where: str, pattern: str) -> list[str]:
    if not term or _UNSUPPORTED.search(term):
        raise InputError(f"{where}: {term!r} in the host pattern {pattern!r} is not a pattern enforcer reads "
                         f"(names, wildcards, ~regex, name[i] or name[i:j], joined by ':' or ',' with & and !)")
    subscript = _SUBSCRIPT.match(term) if not term.startswith("~") else None
    name = subscript.group(1) if subscript else term
    hosts = _enumerate(name, inventory, where, pattern)
    if not hosts:
        raise InputError(f"{where}: {name!r} in the host pattern {pattern!r} matches no group, cluster or host "
                         f"of {inventory.source}")
    if subscript:
        hosts = _subscript(hosts, subscript, where, pattern)
    return hosts


def _enumerate(name: str, inventory: Inventory, where: str, pattern: str) -> list[str]:
    every = [n for c in inventory.clusters for n in c.node_names]
    if name in ("all", "*"):
        return every
    groups = dict(inventory.groups)
    for cluster in inventory.clusters:  # a cluster's name stands for its group too
        groups.setdefault(cluster.name, cluster.node_names)
    matcher = _matcher(name, where, pattern)
    found: dict[str, None] = {}
    named = [g for g in groups if matcher(g)]
    for group in named:
        found.update(dict.fromkeys(groups[group]))
    if not named or name.startswith("~") or any(c in name for c in ".?*["):
        found.update(dict.fromkeys(h for h in every if matcher(h)))
    return list(found)


def _matcher(name: str, where: str, pattern: str) -> Callable[[str], bool]:
    if name.startswith("~"):
        try:
            regex = re.compile(name[1:])
        except re.error as exc:
            raise InputError(f"{where}: {name!r} in the host pattern {pattern!r} is not a regular expression: "
                             f"{exc}") from None
        return lambda text: regex.match(text) is not None  # anchored at the start, as ansible-core matches
    if any(c in name for c in "?*["):
        return lambda text: fnmatch.fnmatchcase(text, name)
    return lambda text: text == name


def _subscript(hosts: list[str], match: re.Match[str], where: str, pattern: str) -> list[str]:
    start = int(match.group(2))
    if match.group(3) is None:
        if not -len(hosts) <= start < len(hosts):
            raise InputError(f"{where}: {match.group(0)!r} in {pattern!r}: there are {len(hosts)} host(s)")
        return [hosts[start]]
    end = int(match.group(4)) if match.group(4) else len(hosts) - 1
    return hosts[start:end + 1]
