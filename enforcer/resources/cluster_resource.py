"""cluster_resource: one resource of a cluster group, present with its dependencies or absent.

What the KB's "remove the MSDTC group" becomes on a modern cluster: a DTC role owns its own Physical Disk,
Network Name and IP Address, and `Remove-ClusterGroup -RemoveResources` would delete them all, the disk
with the DTC log on it included (windows-facts §1.8, §2.2). So the repair removes only the DTC resource
and adds it again with its dependencies; the rest of the role, and its disk, stay.

The plan refuses what Windows would accept and then never bring online: a dependency outside the group, or a
resource without the dependencies its type requires (protocol/wsfc.py). It never removes a Physical Disk:
that takes the disk out of clustered storage and leaves its files out of reach.
"""

from __future__ import annotations

from typing import Any

from ..model import Change
from ..protocol.wsfc import group_state, missing_dependencies
from ..transport.base import AgentOp
from .base import Arg, PlanContext, PlanError, Resource, Session, StepError, results_or_raise
from .cluster_group import read_groups


class ClusterResource(Resource):
    type = "cluster_resource"
    scope = "cluster"
    cluster_cmdlets = True
    summary = "A cluster resource present in a group with exactly the given dependencies, or absent."
    args = {
        "name": Arg(str, required=True),
        "state": Arg(str, default="present", choices=("present", "absent")),
        "group": Arg(str, default="", doc="present: the group it belongs to"),
        "type": Arg(str, default="", doc="present: its resource type, e.g. Distributed Transaction Coordinator"),
        "depends_on": Arg(list, default=[], doc="present: the resources of its group it depends on (all of them)"),
        "timeout_s": Arg(int, default=120),
    }

    def plan(self, ctx: PlanContext, args: dict[str, Any], node: str | None) -> list[Change] | str:
        name, state = args["name"], ctx.state
        found = state.find_resource(name)
        if args["state"] == "absent":
            if found is None:
                return f"resource {name} is absent"
            group, resource = found
            if resource["type"] == "Physical Disk":
                raise PlanError(f"resource {name} is a Physical Disk: removing it takes the disk out of clustered "
                                f"storage and leaves its files out of reach; move it to another group instead")
            dependants = [r["name"] for r in group["resources"]
                          if name.lower() in (d.lower() for d in r.get("depends_on", []))]
            if dependants:  # Windows refuses it (MS-CMRP ApiDeleteResource)
                raise PlanError(f"resource {name} cannot be removed while {', '.join(dependants)} depend(s) on it")
            _drop(group, resource)
            return [ctx.change(None, state.via_for_group(group["name"]), ["delete"], _view(group, resource),
                               "absent", f"resource {name} exists ({resource['state']} in group {group['name']})",
                               destructive=True, disruptive=True, params={"name": name, "group": group["name"],
                                                         "ops": [["cluster.resource.remove", {"name": name}]],
                                                         "timeout_s": args["timeout_s"]})]
        group = _check_present(state.groups, found, args)
        wanted = list(args["depends_on"])
        before: dict[str, Any] | str
        if found is not None:
            resource = found[1]
            if _same(resource["depends_on"], wanted):
                return f"resource {name} is present in group {group['name']}, depending on {_names(wanted)}"
            before = _view(group, resource)
            resource["depends_on"] = wanted
            ops = [["cluster.resource.set_dependencies", {"name": name, "depends_on": wanted}]]
            actions, reason = ["update"], f"resource {name} depends on {_names(before['depends_on'])}"
        else:
            before = "absent"
            resource = {"name": name, "type": args["type"], "state": "Offline", "depends_on": wanted,
                        "possible_owners": [state.cluster_name_of(n) for n in state.node_names]}
            group["resources"] = [*group.get("resources", []), resource]
            group["state"] = group_state([r["state"] for r in group["resources"]])
            ops = [["cluster.resource.add", {"name": name, "type": args["type"], "group": group["name"],
                                             "depends_on": wanted}]]
            actions, reason = ["create"], f"resource {name} is absent"
        return [ctx.change(None, state.via_for_group(group["name"]), actions, before, _view(group, resource), reason,
                           params={"name": name, "group": group["name"], "depends_on": wanted, "ops": ops,
                                   "timeout_s": args["timeout_s"]})]

    def apply(self, change: Change, session: Session) -> dict[str, Any]:
        ops = [AgentOp(op, args) for op, args in change.params["ops"]] + [AgentOp("cluster.groups")]
        data = results_or_raise(change.via, session.call(change.via, ops, timeout_s=change.params["timeout_s"]))
        return self._verify(change, data[-1])

    def settled(self, change: Change, session: Session) -> dict[str, Any] | None:
        data = results_or_raise(change.via, session.call(change.via, [AgentOp("cluster.groups")]))
        try:
            return self._verify(change, data[0])
        except StepError:
            return None

    def _verify(self, change: Change, answer: dict[str, Any]) -> dict[str, Any]:
        name = change.params["name"]
        found = next(((g, r) for g in read_groups(answer, {}).values() for r in g["resources"]
                      if r["name"].lower() == name.lower()), None)
        if change.after == "absent":
            if found is not None:
                raise StepError(f"{change.via}: resource {name} still exists after its removal")
            return {"state": "absent"}
        if found is None or found[0]["name"] != change.params["group"] \
                or not _same(found[1]["depends_on"], change.params["depends_on"]):
            seen = f"in group {found[0]['name']}, depending on {_names(found[1]['depends_on'])}" if found \
                else "absent"
            raise StepError(f"{change.via}: resource {name} is {seen}, not in group {change.params['group']} "
                            f"depending on {_names(change.params['depends_on'])}")
        return {"state": found[1]["state"], "group": found[0]["name"], "depends_on": found[1]["depends_on"]}


def _check_present(groups: dict[str, dict[str, Any]], found: tuple[dict[str, Any], dict[str, Any]] | None,
                   args: dict[str, Any]) -> dict[str, Any]:
    """The group a present resource belongs to, after checking everything Windows needs to bring it online;
    every failed precondition is named at once."""
    name, group_name = args["name"], args["group"]
    group = groups.get(group_name)
    if not group_name or not args["type"]:
        raise PlanError(f"resource {name}: state present needs its group and its type")
    if group is None:
        raise PlanError(f"group {group_name} does not exist: create the role first (cluster_group)")
    problems = []
    if not all(isinstance(d, str) for d in args["depends_on"]):
        problems.append("depends_on must be a list of resource names")
        args = {**args, "depends_on": [d for d in args["depends_on"] if isinstance(d, str)]}
    if found is not None and found[0]["name"] != group_name:
        problems.append(f"resource {name} belongs to group {found[0]['name']}, not {group_name}")
    if found is not None and found[1]["type"] != args["type"]:
        problems.append(f"resource {name} is a {found[1]['type']}, not a {args['type']}")
    members = {r["name"].lower(): r for r in group.get("resources", [])}
    outside = [d for d in args["depends_on"] if d.lower() not in members or d.lower() == name.lower()]
    if outside:
        problems.append(f"{_names(outside)} {'is not a resource' if len(outside) == 1 else 'are not resources'} "
                        f"of group {group_name} (a resource depends only on resources of its own group)")
    missing = missing_dependencies(args["type"], [members[d.lower()]["type"] for d in args["depends_on"]
                                                  if d.lower() in members])
    if missing:
        problems.append(f"a {args['type']} needs a dependency on a {' and a '.join(missing)}, or it never comes "
                        f"online")
    if problems:
        raise PlanError("; ".join(problems))
    return group


def _drop(group: dict[str, Any], resource: dict[str, Any]) -> None:
    """The predicted group once `resource` (which nothing depends on) is removed."""
    group["resources"] = [r for r in group["resources"] if r is not resource]
    group["state"] = group_state([r["state"] for r in group["resources"]])


def _view(group: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    return {"group": group["name"], "type": resource["type"], "state": resource["state"],
            "depends_on": list(resource.get("depends_on", []))}


def _same(have: list[str], want: list[str]) -> bool:
    return sorted(d.lower() for d in have) == sorted(d.lower() for d in want)


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "nothing"
