"""From gathered facts to a plan: pure, so plan and apply run the same code.

Templates (`when`, arguments, vars) see the facts as gathered at the start of
the play, as Ansible's do; each resource's idempotence check sees the
*predicted* state, i.e. the facts updated by the changes planned before it.
That is how a procedure plans right: the KB's "recreate the MSDTC group"
knows an earlier task removes it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import patterns
from .errors import InputError
from .model import Change, Cluster, ClusterPlan, Inventory, Outcome, Play, Playbook, Task
from .playbook import check_arg, coerce_arg
from .resources import FACT_KINDS, RESOURCES, PlanContext, PlanError, State
from .templating import Data, Scope, TemplateError, evaluate, render

SECRET_VARS = ("ansible_password", "ansible_winrm_password", "ansible_become_password")


@dataclass
class Selection:
    """What the user asked to run: which clusters, which tags, which extra vars."""

    extra_vars: dict[str, Any] = field(default_factory=dict)
    limit: str | None = None
    tags: set[str] = field(default_factory=set)
    skip_tags: set[str] = field(default_factory=set)


def limited(inventory: Inventory, limit: str | None) -> list[Cluster]:
    """The clusters --limit selects (every cluster without one): InputError when it selects none, or cannot be
    read (patterns.py)."""
    if not limit:
        return list(inventory.clusters)
    return patterns.selected_clusters(limit, inventory, "--limit")


def selected(play: Play, cluster: Cluster, inventory: Inventory, selection: Selection) -> bool:
    """The play's hosts (and --limit, if any) take in the cluster."""
    chosen = patterns.selected_clusters(play.hosts, inventory, f"{play.location}: play {play.name!r}: hosts")
    return cluster in chosen and cluster in limited(inventory, selection.limit)


def public_vars(variables: dict[str, Any]) -> dict[str, Any]:
    """Variables templates may read: connection secrets are not among them."""
    return {k: v for k, v in variables.items() if k not in SECRET_VARS}


def variable_layers(cluster: Cluster, node: str | None, play: Play, selection: Selection,
                    registered: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Variables by precedence, lowest first: inventory < play vars < registered results < -e."""
    inventory_vars = next(n.vars for n in cluster.nodes if n.name == node) if node else cluster.vars
    where = {"cluster_name": cluster.name, "node_name": node, "inventory_hostname": node}
    return [public_vars(inventory_vars), play.vars, registered or {}, selection.extra_vars, where]


def fact_requests(plays: list[Play], cluster: Cluster, selection: Selection) -> dict[str, dict[str, Any]]:
    """The args of each node's one `facts` op: the union of what every task needs there.

    What a task reads is named before any fact exists, so those arguments may
    use variables and the node's name, not facts.
    """
    requests = {}
    for node in cluster.node_names:
        needs = {name: set(kind.always) for name, kind in FACT_KINDS.items()}
        events: dict[str, Any] | None = None
        for play in plays:
            for name in needs:
                needs[name] |= set(play.gather.get(name, []))
            events = play.gather.get("events", events)
            scope = Scope(*variable_layers(cluster, node, play, selection), where=play.location)
            for task in play.tasks + play.handlers:
                resource = RESOURCES[task.type]
                for item in (_loop_items(task, scope) if resource.reads else []):
                    item_scope = scope.child({"item": item}, where=task.location)
                    read = resource.needs({k: render(task.args[k], item_scope, task.location)
                                           for k in resource.needs_args})
                    for name, names in read.items():
                        needs[name] |= names
        request: dict[str, Any] = {name: sorted(names) for name, names in needs.items()}
        if events:
            request["events"] = _events_request(events)
        requests[node] = request
    return requests


def _events_request(events: dict[str, Any]) -> dict[str, Any]:
    """`since_hours: N` becomes an absolute `since`, computed when the facts are asked for."""
    request = {k: v for k, v in events.items() if k != "since_hours"}
    if "since_hours" in events:
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=float(events["since_hours"]))
        request["since"] = since.isoformat()
    return request


def _loop_items(task: Task, scope: Scope) -> list[Any]:
    if task.loop is None:
        return [None]
    items = render(task.loop, scope, task.location)
    if not isinstance(items, list):
        raise TemplateError(f"task {task.name!r}: loop must give a list, got {type(items).__name__}", task.location)
    return items


def cluster_view(cluster: Cluster, gathered: State) -> dict[str, Any]:
    """`cluster` in templates: its name, ordered nodes, node states and groups by name (inventory names).

    Taken from the state as gathered, before planning predicts changes to it.
    """
    return {"name": cluster.name, "nodes": cluster.node_names, "node_states": dict(gathered.node_states),
            "groups": {name: dict(group) for name, group in gathered.groups.items()}}


def plan_cluster(playbook: Playbook, cluster: Cluster, inventory: Inventory, facts: dict[str, dict[str, Any]],
                 selection: Selection, run_id: str) -> ClusterPlan:
    result = ClusterPlan(cluster.name, cluster.node_names, facts=facts)
    state = State(cluster.name, cluster.node_names, facts)
    builtins = {"nodes": facts, "cluster": cluster_view(cluster, state), "run_id": run_id}
    refusals: list[str] = []  # every task that cannot be planned is named, as a preflight names every failure
    for play in playbook.plays:
        if not selected(play, cluster, inventory, selection):
            continue
        registered = Data()
        notified: list[str] = []
        tasks = list(play.tasks)
        rendered: dict[str | None, dict[str, Any]] = {}  # per node: the play's variables, valid until a register
        scope_for = functools.partial(_task_scope, cluster=cluster, play=play, selection=selection, facts=facts,
                                      builtins=builtins, registered=registered, rendered=rendered)
        try:
            while tasks:
                task = tasks.pop(0)
                planner = _TaskPlanner(task, cluster, state, run_id, result)
                before = len(result.changes)
                try:
                    changed = planner.plan(scope_for, selection, registered)
                except PlanError as exc:  # the later tasks are still planned, for their own refusals
                    refusals.append(_located(planner.task, exc))
                    continue
                for change in result.changes[before:]:
                    change.serial, change.max_fail_percentage = play.serial, play.max_fail_percentage
                if task.register:
                    rendered.clear()  # variables may read the result just registered
                for handler in (task.notify if changed else []):
                    if handler not in notified:
                        notified.append(handler)
                if not tasks and notified:
                    tasks = [h for h in play.handlers if h.name in notified]
                    notified = []
        except (TemplateError, InputError) as exc:
            refusals.append(_located(planner.task, exc))
            break
    if refusals:
        result.error = "\n".join(refusals)
    return result


def _located(task: Task, exc: Exception) -> str:
    detail = str(getattr(exc, "detail", exc))
    prefix = "" if detail.startswith("task ") else f"task '{task.name}': "
    return f"{task.location}: {prefix}{detail}"


def _task_scope(node: str | None, task: Task, *, cluster: Cluster, play: Play, selection: Selection,
                facts: dict[str, dict[str, Any]], builtins: dict[str, Any], registered: Data,
                rendered: dict[str | None, dict[str, Any]]) -> Scope:
    """A task's scope on a node (None: cluster-wide), for one play on one cluster."""
    facts_node = node or _cluster_node(cluster, facts)
    return Scope(*variable_layers(cluster, node, play, selection, registered),
                 Data(builtins, facts=facts.get(facts_node, {}), node_name=facts_node,
                      inventory_hostname=facts_node), where=task.location, cache=rendered.setdefault(node, {}))


class _TaskPlanner:
    def __init__(self, task: Task, cluster: Cluster, state: State, run_id: str, result: ClusterPlan) -> None:
        self.task, self.cluster, self.state, self.run_id, self.result = task, cluster, state, run_id, result
        self.resource = RESOURCES[task.type]

    def plan(self, scope_for: Callable[[str | None, Task], Scope], selection: Selection,
             registered: dict[str, Any]) -> bool:
        """Plan the task; True when it changes something (its handlers are then notified)."""
        task = self.task
        if not tag_selected(task.tags, selection):
            self._outcome(None, "skipped", "not selected by --tags/--skip-tags")
            self._register(registered, changes=[], skipped=True)
            return False
        cluster_scope = scope_for(None, task)
        cluster_args = render(task.args, cluster_scope.child({"item": None}), task.location) if task.loop is None \
            else None
        targets = [None] if self.resource.scope_of(cluster_args or task.args) == "cluster" else self.cluster.node_names
        changes: list[Change] = []
        ran = False
        for node in targets:
            node_scope = scope_for(node, task)
            for item in _loop_items(task, node_scope):
                item_scope = node_scope.child({"item": item}, where=task.location)
                if task.when is not None and not evaluate(task.when, item_scope, task.location):
                    self._outcome(node, "skipped", f"when: {task.when} is false")
                    continue
                ran = True
                planned = self._plan_one(item_scope, node)
                if task.loop is not None:
                    for change in planned:
                        change.item = item
                changes += planned
        self.result.changes += changes
        self._register(registered, changes=changes, skipped=not ran)
        return bool(changes)

    def _plan_one(self, scope: Scope, node: str | None) -> list[Change]:
        task, spec = self.task, self.resource.args
        args = {k: (v if spec[k].raw else coerce_arg(task.type, k, render(v, scope, task.location)))
                for k, v in task.args.items()}
        for key, value in args.items():
            if value is not None:
                check_arg(task.type, key, value, task.name, task.location)
        why = self.resource.refused(args)
        if why:
            raise InputError(f"task {task.name!r}: {why}", task.location)
        ctx = PlanContext(task.name, self.cluster.name, self.run_id, self.state,
                          lambda expression: evaluate(expression, scope, task.location))
        planned = self.resource.plan(ctx, args, node)
        if isinstance(planned, str):
            self._outcome(node, "ok", planned)
            return []
        if planned and self.resource.cluster_cmdlets and self.state.without_cluster_module:
            raise PlanError(f"the FailoverClusters PowerShell module is not installed on "
                            f"{', '.join(self.state.without_cluster_module)}: install RSAT-Clustering-PowerShell "
                            f"(Install-WindowsFeature RSAT-Clustering-PowerShell) on every node first")
        for change in planned:
            change.type = task.type
        return planned

    def _outcome(self, node: str | None, status: str, reason: str) -> None:
        self.result.outcomes.append(Outcome(self.task.name, node, status, reason))

    def _register(self, registered: dict[str, Any], changes: list[Change], skipped: bool) -> None:
        if self.task.register:
            registered[self.task.register] = {"changed": bool(changes), "skipped": skipped,
                                              "changes": [c.to_json() for c in changes]}


def _cluster_node(cluster: Cluster, facts: dict[str, dict[str, Any]]) -> str:
    """Cluster-wide tasks see the facts of the first node that answered for the cluster."""
    return next((n for n in cluster.node_names if facts.get(n, {}).get("cluster")), cluster.node_names[0])


def tag_selected(tags: list[str], selection: Selection) -> bool:
    if "always" in tags and "always" not in selection.skip_tags:
        return True
    if selection.tags and not selection.tags & set(tags):
        return False
    return not selection.skip_tags & set(tags)
