"""The engine's data: inventory, plays, plan and run results, as plain dataclasses.

Everything here is data with no I/O, so a plan can be rendered, saved,
compared and tested without a node in sight.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote


# -- inventory ------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionSpec:
    """How to reach one node, from its `ansible_*` variables."""

    host: str
    port: int = 5985
    scheme: str = "http"
    auth: str = "ntlm"
    user: str = ""
    password: str = field(default="", repr=False)
    cert_validation: bool = True
    ca_trust_path: str | None = None
    operation_timeout_s: int = 20
    read_timeout_s: int = 30
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    kerberos_hostname_override: str | None = None  # the name in the node's service principal, HTTP/<name>
    kerberos_delegation: bool = False  # forward the ticket, for what the node reaches on the user's behalf

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{url_host(self.host)}:{self.port}/wsman"


def url_host(host: str) -> str:
    """A host as a URL writes it: an IPv6 literal in brackets, its zone's `%` escaped (RFC 6874)."""
    address, _, zone = host.strip("[]").partition("%")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return host
    return f"[{address}{'%25' + quote(zone, safe='') if zone else ''}]"


@dataclass
class Node:
    name: str
    cluster: str
    connection: ConnectionSpec
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cluster:
    """A cluster group of the inventory; `nodes` are in A, B, ... order."""

    name: str
    group: str
    nodes: list[Node]
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]


@dataclass
class Inventory:
    source: str
    clusters: list[Cluster]
    groups: dict[str, list[str]]  # group name -> the cluster nodes it holds, through its children too
    warnings: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # values vault decrypted: redacted wherever they appear


# -- playbooks --------------------------------------------------------------------
@dataclass
class Task:
    name: str
    type: str
    args: dict[str, Any]
    location: str  # file:line, for every message about this task
    when: str | bool | None = None  # an expression, or a YAML boolean
    loop: Any = None
    tags: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    register: str | None = None


@dataclass
class Play:
    name: str
    hosts: str
    vars: dict[str, Any]
    tasks: list[Task]
    handlers: list[Task]
    location: str
    gather: dict[str, Any] = field(default_factory=dict)  # extra facts: names of each kind tasks read, events
    # A disruptive per-node task's nodes are taken `serial` at a time (an int, or "N%" of them), and the rest
    # are not reached once more than `max_fail_percentage` of them failed (Ansible's play keywords).
    serial: int | str = 1
    max_fail_percentage: float = 0


@dataclass
class Playbook:
    source: str
    plays: list[Play]


# -- plans --------------------------------------------------------------------------
@dataclass
class Change:
    """One planned change, in Terraform's shape: what, where, before -> after, and why."""

    task: str
    type: str
    cluster: str
    node: str | None  # None: the change is cluster-wide
    via: str  # the node whose own session carries it out
    actions: list[str]
    before: Any
    after: Any
    reason: str
    destructive: bool = False  # data is removed (a key, a folder, a registration, a log): backed up where it can be
    disruptive: bool = False  # a service is interrupted (a restart, a failover, a stop): nothing lost, but felt
    backups: list[str] = field(default_factory=list)  # files the backups of what it deletes will be
    params: dict[str, Any] = field(default_factory=dict)  # what apply needs, resource-specific
    item: Any = None  # the loop item it was planned for (a task with `loop`)
    serial: int | str = 1  # its play's, for a disruptive per-node change (see Play)
    max_fail_percentage: float = 0

    @property
    def target(self) -> str:
        """What the change acts on, as a reviewer looks for it: a key, a path, a service, a role, a node."""
        p = self.params
        return str(p.get("path") or p.get("name") or p.get("dtc") or ("MSDTC" if self.type == "dtc" else "")
                   or ("the cluster service, node by node" if self.type == "cluster_restart" else self.cluster))

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "type": self.type, "target": self.target, "node": self.node, "via": self.via,
                "actions": self.actions, "before": self.before, "after": self.after,
                "destructive": self.destructive, "disruptive": self.disruptive, "backups": self.backups,
                "reason": self.reason,
                **({"order": self.params["order"]} if "order" in self.params else {}),
                **({"item": self.item} if self.item is not None else {})}


@dataclass
class Outcome:
    """What planning a task came to on one node or cluster when it changes nothing."""

    task: str
    node: str | None
    status: str  # "ok" (already as desired) or "skipped" (when: false, tags)
    reason: str


@dataclass
class ClusterPlan:
    cluster: str
    nodes: list[str]
    changes: list[Change] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # planning stopped here (an assert failed, a template broke)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    playbook: str
    inventory: str
    clusters: list[ClusterPlan]
    unreachable: dict[str, str] = field(default_factory=dict)  # node -> why
    locked: dict[str, dict[str, Any]] = field(default_factory=dict)  # cluster -> the other run holding its lease
    audit: dict[str, Any] = field(default_factory=dict)  # who made it, where, with what (audit.py)

    @property
    def changes(self) -> list[Change]:
        return [c for cp in self.clusters for c in cp.changes]

    @property
    def failed(self) -> bool:
        return any(cp.error for cp in self.clusters if cp.cluster not in self.locked)


# -- runs ------------------------------------------------------------------------------
@dataclass
class StepResult:
    change: Change
    status: str  # "changed", "failed", "skipped" (not reached)
    message: str = ""
    duration_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None  # epoch seconds; None when the step was not reached


@dataclass
class ClusterRun:
    cluster: str
    nodes: list[str]
    steps: list[StepResult] = field(default_factory=list)
    error: str | None = None
    final_nodes: dict[str, str] = field(default_factory=dict)  # node -> Up/Down/Paused/unknown
    backups: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    run_id: str
    plan: Plan
    clusters: list[ClusterRun]
    interrupted: bool = False

    @property
    def failed(self) -> bool:
        return any(c.error for c in self.clusters if c.cluster not in self.plan.locked)
