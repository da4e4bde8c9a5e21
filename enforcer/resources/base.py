"""What every task type is: an argument schema, the facts it reads, a pure plan, an apply.

`plan()` compares the *predicted* state (the gathered facts, updated by the
changes planned before it) with the task's desired state and returns the
changes, or the reason nothing needs doing. `apply()` carries one change out
through the node's session and re-reads what it changed in the same agent
call, so a change is verified without another round trip.
"""

from __future__ import annotations

import ipaddress
import marshal
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, overload

from ..errors import EnforcerError
from ..model import Change
from ..templating import is_template
from ..transport.base import AgentOp, OpResult

BACKUP_ROOT = "C:\\ProgramData\\enforcer\\backups"


class PlanError(EnforcerError):
    """A task cannot be planned (an assert failed, the cluster is not in a state to act on)."""


class StepError(EnforcerError):
    """A change was attempted and did not take effect; the message says what was seen instead.

    `data` keeps what the step did record before it failed (a restart's timeline, say), for the report.
    """

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


@dataclass(frozen=True)
class Arg:
    kind: type | tuple[type, ...]
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    raw: bool = False  # an expression the resource evaluates itself (assert's `that`)
    doc: str = ""
    check: Callable[[Any], str | None] | None = None  # what is wrong with a value of the right type, or None


_HIVES = ("HKLM", "HKCU", "HKCR", "HKU", "HKCC", "HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_CLASSES_ROOT",
          "HKEY_USERS", "HKEY_CURRENT_CONFIG")  # the agent's (registry.ps1), with or without a colon
REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_DWORD", "REG_QWORD", "REG_MULTI_SZ")  # what registry.set writes


def windows_path(value: str) -> str | None:
    """An absolute path on the node: a drive (C:\\...) or a share (\\\\server\\share\\...)."""
    if re.fullmatch(r"[A-Za-z]:\\.*", value) or re.fullmatch(r"\\\\[^\\]+\\[^\\]+.*", value):
        return None
    return "must be an absolute Windows path (C:\\... or \\\\server\\share\\...)"


def ipv4_address(value: str) -> str | None:
    """A static address for a cluster IP Address resource, or empty (DHCP)."""
    try:
        if value:
            ipaddress.IPv4Address(value)
    except ValueError:
        return "must be an IPv4 address like 10.0.0.20 (or empty, for DHCP)"
    return None


def registry_path(value: str) -> str | None:
    hive = value.strip().split("\\", 1)[0].rstrip(":").upper()
    return None if hive in _HIVES else f"must start with a registry hive ({', '.join(_HIVES[:5])}), not {hive!r}"


def registry_values(value: dict[str, Any]) -> str | None:
    for name, entry in value.items():
        kind = entry.get("type", "REG_SZ") if isinstance(entry, dict) else "REG_SZ"
        if isinstance(entry, dict) and ("data" not in entry or set(entry) - {"type", "data"}):
            return f"value {name!r} must be its data, or a mapping of type and data"
        if not is_template(kind) and kind not in REG_TYPES:
            return f"value {name!r} has type {kind!r}; expected one of {', '.join(REG_TYPES)}"
    return None


@dataclass(frozen=True)
class FactKind:
    """A kind of fact the one `facts` call reads by name: its argument lists the names, its answer has the same key.

    Resources declare the kinds they read (`Resource.reads`); the planner asks
    each node for the union of the names every task needs, and a play's
    `gather_facts` may name more of each kind.
    """

    name: str
    always: frozenset[str] = frozenset()  # read on every node whatever the tasks ask


REGISTRY = FactKind("registry")
PATHS = FactKind("paths")
SERVICES = FactKind("services", frozenset({"ClusSvc", "MSDTC"}))  # what `enforcer facts` shows of every node


def cluster_node_names(node_names: list[str], facts: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Inventory name -> the name the cluster knows the node by (`sql-a.corp.example` -> `SQL-A`)."""
    names = {}
    for node in node_names:
        node_facts = facts.get(node) or {}
        names[node] = (node_facts.get("cluster") or {}).get("local_node") or node_facts.get("hostname") or node
    return names


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars), as facts are; marshal does it in C, ~10x copy.deepcopy."""
    return marshal.loads(marshal.dumps(value))


class State:
    """The cluster as it will be once the changes planned so far are applied.

    Node names are the inventory's throughout; `aliases` turns the cluster's own
    names (in its answers) into them, and `cluster_name_of` back (for ops' args).
    """

    def __init__(self, cluster: str, node_names: list[str], facts: dict[str, dict[str, Any]]) -> None:
        self.cluster = cluster
        self.node_names = node_names
        self.nodes = _copy_json(facts)  # the prediction changes this copy, never the facts the plan shows
        self.names = cluster_node_names(node_names, facts)
        self.aliases = {name.lower(): node for node, name in self.names.items()}
        source = next((f["cluster"] for f in self.nodes.values() if f.get("cluster")), None) or {}
        self.node_states: dict[str, str] = {self.inventory_name(n["name"]): n["state"] for n in source.get("nodes", [])}
        self.witness: dict[str, Any] | None = source.get("witness")  # {type, name, state}: who may start the cluster
        self.groups: dict[str, dict[str, Any]] = {
            g["name"]: {**g, "owner": self.inventory_name(g["owner"])} for g in source.get("groups", [])}
        self.networks: list[dict[str, Any]] = source.get("networks", [])
        # Nodes without the FailoverClusters module (RSAT-Clustering-PowerShell): no cluster cmdlet runs there.
        self.without_cluster_module = [n for n in node_names if (facts.get(n) or {}).get("cluster_module") is False]

    @overload
    def inventory_name(self, cluster_name: str) -> str: ...
    @overload
    def inventory_name(self, cluster_name: None) -> None: ...

    def inventory_name(self, cluster_name: str | None) -> str | None:
        return self.aliases.get(cluster_name.lower(), cluster_name) if cluster_name else cluster_name

    def cluster_name_of(self, node: str) -> str:
        return self.names.get(node, node)

    def up_nodes(self) -> list[str]:
        return [n for n in self.node_names if self.node_states.get(n) == "Up"]

    def reader_of(self, path: str) -> str:
        """The node that can read a shared-disk path: the disk's owner (every other node answers `exists: null`)."""
        readers = [n for n in self.node_names if self.nodes[n]["paths"][path].get("exists") is not None]
        if not readers:
            raise PlanError(f"no node of {self.cluster} can read {path}: is its disk online?")
        return readers[0]

    def find_resource(self, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(group, resource) of the resource named `name` (as Windows compares names, without case)."""
        for group in self.groups.values():
            for resource in group.get("resources", []):
                if resource["name"].lower() == name.lower():
                    return group, resource
        return None

    def may_own(self, node: str, group: dict[str, Any]) -> bool:
        """Whether `node` (an inventory name) is a possible owner of every resource of `group`."""
        name = self.cluster_name_of(node).lower()
        return all(name in {o.lower() for o in r["possible_owners"]} for r in group.get("resources", [])
                   if "possible_owners" in r)

    def via_for_group(self, group: str | None = None) -> str:
        """Cluster commands go through the group's owner when it is Up, else the first Up node."""
        owner = self.groups.get(group, {}).get("owner") if group else None
        if owner in self.up_nodes():
            return owner
        up = self.up_nodes()
        if not up:
            raise PlanError(f"no node of cluster {self.cluster} is Up to carry out cluster commands")
        return up[0]


@dataclass
class PlanContext:
    task: str
    cluster: str
    run_id: str
    state: State
    evaluate: Callable[[str], Any]  # a bare Jinja expression in the task's scope

    def backup_path(self, node: str, kind: str, target: str, suffix: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", target).strip("_")[-80:]
        return f"{BACKUP_ROOT}\\{self.run_id}\\{node}-{kind}-{safe}{suffix}"

    def change(self, node: str | None, via: str, actions: list[str], before: Any, after: Any, reason: str,
               **extra: Any) -> Change:
        return Change(task=self.task, type="", cluster=self.cluster, node=node, via=via, actions=actions,
                      before=before, after=after, reason=reason, **extra)


class Session:
    """What apply() may do: call ops on the cluster's nodes. The executor provides it."""

    def call(self, node: str, ops: Sequence[AgentOp], *, timeout_s: float | None = None,
             stop_on_error: bool = True) -> list[OpResult]:
        raise NotImplementedError

    def progress(self, message: str) -> None:
        """A live line for the operator (the executor prints or records it)."""

    def reset(self, node: str) -> None:
        """Forget the node's connection: after a lost answer the next call starts afresh."""

    def interrupted(self) -> bool:
        """True once the operator asked the run to stop (Ctrl-C, SIGTERM): finish safely, start nothing new."""
        return False


class Resource:
    type: ClassVar[str]
    scope: ClassVar[str] = "node"  # "node": once per node; "cluster": once, through one node
    args: ClassVar[dict[str, Arg]] = {}
    reads: ClassVar[tuple[FactKind, ...]] = ()  # the kinds of fact needs() names
    cluster_cmdlets: ClassVar[bool] = False  # its changes run FailoverClusters cmdlets: a preflight checks the module
    needs_args: ClassVar[tuple[str, ...]] = ()  # the arguments needs() reads: rendered before facts exist
    summary: ClassVar[str] = ""

    def scope_of(self, args: dict[str, Any]) -> str:
        return self.scope

    def refused(self, args: dict[str, Any]) -> str | None:
        """Why these arguments are not a task enforcer will run (invalid input), or None. Asked of the playbook's
        own values before anything is contacted, and of templated ones once rendered."""
        return None

    def needs(self, args: dict[str, Any]) -> dict[str, set[str]]:
        """The facts this task reads on a node, by kind (`{"registry": {"HKLM\\..."}}`)."""
        return {}

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        """Changes to make, or why none are needed; updates ctx.state with the predicted result."""
        raise NotImplementedError

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        """Carry out `change`; return what happened (recorded in the run); raise StepError if it did not."""
        raise NotImplementedError

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        """After a lost answer: re-read, and return apply()'s result if the change is in effect, None if
        it is not (so it is safe to apply again). Raise when it cannot tell: the step then fails."""
        raise StepError(f"{self.type} cannot tell whether a change whose answer was lost took effect")


def node_state_in(answer: dict[str, Any], name: str) -> str:
    """A node's state in a `cluster.nodes` answer; node names compare without case, as Windows compares them."""
    return next((n["state"] for n in answer["nodes"] if n["name"].lower() == name.lower()), "unknown")


def registry_backup(node: str, key: str, export: str, size: int) -> dict[str, Any]:
    """The run's record of a key exported before it went: what `enforcer restore` imports, and where."""
    return {"node": node, "kind": "registry", "path": key, "file": export, "bytes": size}


def path_backup(node: str, path: str, archive: str, size: int) -> dict[str, Any]:
    """The run's record of a folder or file archived before it went: what `enforcer restore` expands, and where."""
    parent = path.rstrip("\\").rpartition("\\")[0]
    return {"node": node, "kind": "path", "path": path, "file": archive,
            "restore_to": parent + "\\" if parent.endswith(":") else parent, "bytes": size}


def results_or_raise(node: str, results: list[OpResult]) -> list[dict[str, Any]]:
    """Every op's data, or StepError naming the first op that failed and why."""
    for result in results:
        if not result.ok:
            raise StepError(f"{node}: {result.op} failed ({result.error_kind}): {result.error_message}")
    return [r.data or {} for r in results]
