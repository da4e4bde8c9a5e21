"""Scenarios: YAML data files that describe a cluster's starting state.

A scenario may `extends:` another and override parts of it (dicts merge,
everything else replaces), so `sql-installed` is `kb252641-broken` plus SQL
Server, not a copy of it.
"""

from __future__ import annotations

import datetime as dt
import json
import string
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .entities import WITNESS_TYPES, Clock, Group, Network, Node, Resource, Service, Witness
from .faults import FaultBook
from .groups import resource_id
from .journal import Journal
from .model import Cluster
from .msdtc import DTC_LOG_BYTES, DTC_LOG_FILE
from .stores import FileSystem

OS_BUILDS = {"ws2019": 17763, "ws2022": 20348}


class ScenarioError(ValueError):
    """An unknown or malformed scenario."""


def available() -> list[str]:
    return sorted(p.name.removesuffix(".yml") for p in resources.files(__package__).joinpath("scenarios").iterdir()
                  if p.name.endswith(".yml"))


def load(name: str) -> dict[str, Any]:
    """A scenario by name (packaged) or by path to a YAML file, with `extends` resolved (a packaged name,
    or a .yml file beside this one)."""
    path = Path(name)
    if path.suffix in (".yml", ".yaml") and path.is_file():
        text = path.read_text(encoding="utf-8")
    elif name in available():
        text = resources.files(__package__).joinpath("scenarios").joinpath(f"{name}.yml").read_text(encoding="utf-8")
    else:
        raise ScenarioError(f"unknown scenario {name!r}: expected one of {', '.join(available())} or a .yml file")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {name!r}: expected a mapping at the top")
    parent = data.pop("extends", None)
    if parent and path.is_file() and (path.parent / str(parent)).is_file():
        parent = str(path.parent / str(parent))  # a file beside the scenario that extends it
    return _merge(load(parent), data) if parent else data


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return over


def build_cluster(scenario: dict[str, Any], index: int, node_count: int, clock: Clock, journal: Journal,
                  faults: FaultBook) -> Cluster:
    """Cluster `CLU<index>` with nodes `CLU<index>-A`, `-B`, ... from the scenario.

    `node:` describes every node; `nodes: {B: {...}}` overrides it for one node (by its letter), e.g.
    `{paused: true}` for a node an operator paused, `{os: ws2022}` or `{cluster_module: false}`.
    """
    name = f"CLU{index}"
    spec = scenario.get("cluster", {})
    overrides = scenario.get("nodes") or {}
    letters = string.ascii_uppercase[:node_count]
    unknown = sorted(set(overrides) - set(letters))
    if unknown:
        raise ScenarioError(f"nodes: {', '.join(map(str, unknown))} is not a node letter of a "
                            f"{node_count}-node cluster")
    nodes = [_build_node(f"{name}-{letter}", _merge(scenario.get("node", {}), overrides.get(letter) or {}))
             for letter in letters]
    cluster = Cluster(name, nodes, clock=clock, journal=journal, faults=faults,
                      witness=_witness(spec.get("witness"), name), networks=_networks(spec.get("networks") or {}))
    for node in nodes:
        node.db_epoch = cluster.epoch
    if cluster.witness:
        cluster.witness.epoch = cluster.epoch
    for group_name, g in (spec.get("groups") or {}).items():
        if g is not None:  # None: a group the scenario it extends has, removed (`NAME: null`)
            cluster.groups[group_name.lower()] = _build_group(cluster, group_name, g)
    for grp in cluster.groups.values():
        for res in grp.resources:
            if "log" in res.params:
                _write_dtc_log(cluster, grp, res)
    for path, content in (spec.get("disk_files") or {}).items():
        cluster.disks.setdefault(path[:2].upper(), FileSystem()).write(path, _file_bytes(content))
    return cluster


def _build_group(cluster: Cluster, name: str, spec: dict[str, Any]) -> Group:
    """`resources` by name, each with its `type`, and `depends_on`, `state`, `possible_owners` (node letters),
    `drive` (a Physical Disk), `address` or `dhcp` (an IP Address), `log` (a DTC's: readable, damaged or
    missing). A resource's state is its group's unless it says otherwise."""
    state = spec.get("state", "Online")
    try:
        owner = cluster.nodes[spec.get("owner", 0)].name
    except IndexError:
        raise ScenarioError(f"group {name}: owner {spec.get('owner')} is not a node index") from None
    grp = Group(name, owner, state, persistent_online=state != "Offline")
    if spec.get("failover_threshold") is not None:
        grp.failover_threshold = int(spec["failover_threshold"])
    default = "Offline" if state == "Offline" else "Online"
    for res_name, r in (spec.get("resources") or {}).items():
        if r is None:
            continue
        if not isinstance(r, dict) or "type" not in r:
            raise ScenarioError(f"group {name}: resource {res_name!r} needs a type")
        params: dict[str, Any] = {k: r[k] for k in ("address", "dhcp", "log") if k in r}
        if r.get("drive"):
            params["drive"] = str(r["drive"]).upper()
            cluster.disks.setdefault(params["drive"], FileSystem())
        owners = r.get("possible_owners")
        grp.resources.append(Resource(
            res_name, r["type"], r.get("state", default), list(r.get("depends_on") or []),
            None if owners is None else [f"{cluster.name}-{letter}" for letter in owners], params,
            resource_id(cluster.name, res_name, 0)))
    return grp


def _write_dtc_log(cluster: Cluster, grp: Group, res: Resource) -> None:
    """A DTC's log where it keeps it, on the disk it depends on (`missing`: it made one, since deleted)."""
    condition = res.params.pop("log")
    folder = cluster.dtc_log_folder(grp, res)
    if folder is None:
        raise ScenarioError(f"resource {res.name} has a log but depends on no disk with a drive")
    if condition not in ("readable", "damaged", "missing"):
        raise ScenarioError(f"a DTC log is readable, damaged or missing, not {condition!r}")
    res.params["log"] = folder
    if condition != "missing":
        cluster.disks[folder[:2]].write(f"{folder}\\{DTC_LOG_FILE}", _file_bytes({"dtc_log": condition}))


def _networks(spec: dict[str, Any]) -> list[Network]:
    """`networks: {NAME: {address, mask, role, dhcp}}`: role none, cluster or cluster_and_client (the default)."""
    networks = []
    for name, n in spec.items():
        role = n.get("role", "cluster_and_client")
        if role not in ("none", "cluster", "cluster_and_client"):
            raise ScenarioError(f"network {name}: role must be none, cluster or cluster_and_client, not {role!r}")
        networks.append(Network(name, str(n["address"]), str(n["mask"]), role, bool(n.get("dhcp", False))))
    return networks


def _witness(spec: dict[str, Any] | None, cluster: str) -> Witness | None:
    """`witness: {type: disk|file_share|cloud, name: ...}`; none when the scenario names none."""
    if not spec:
        return None
    kind = spec.get("type")
    if kind not in WITNESS_TYPES:
        raise ScenarioError(f"witness type must be one of {', '.join(WITNESS_TYPES)}, not {kind!r}")
    default = "Cluster Disk Witness" if kind == "disk" else WITNESS_TYPES[kind]  # the resource's name as created
    state = spec.get("state", "Online")
    if state not in ("Online", "Offline", "Failed"):
        raise ScenarioError(f"witness state must be Online, Offline or Failed, not {state!r}")
    return Witness(kind, str(spec.get("name", default)), state=state)


def _build_node(name: str, spec: dict[str, Any]) -> Node:
    os_name = spec.get("os", "ws2019")
    if os_name not in OS_BUILDS:
        raise ScenarioError(f"os must be one of {', '.join(OS_BUILDS)}, not {os_name!r}")
    node = Node(name, paused=bool(spec.get("paused", False)), cluster_module=bool(spec.get("cluster_module", True)),
                os_build=OS_BUILDS[os_name], account_admin=bool(spec.get("account_admin", True)))
    if "booted_ago_s" in spec:  # when Windows last started on it (default: a week ago)
        node.boot_time = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=float(spec["booted_ago_s"]))
    for svc_name, s in spec.get("services", {}).items():
        node.services[svc_name.lower()] = Service(
            svc_name, s.get("display_name", svc_name), s.get("status", "Stopped"), s.get("start_type", "Automatic"),
            float(s.get("start_s", 2)), float(s.get("stop_s", 1)))
    if not spec.get("dtc_registered", True):  # msdtc -uninstall: MSDTC is registered while its service exists
        node.services.pop("msdtc", None)
    for key, values in spec.get("registry", {}).items():
        node.registry.create(key)
        for value_name, value in (values or {}).items():
            if isinstance(value, dict):
                node.registry.set_value(key, value_name, value["data"], value.get("type", "REG_SZ"))
            else:
                node.registry.set_value(key, value_name, value, "REG_DWORD" if isinstance(value, int) else "REG_SZ")
    for path, content in spec.get("files", {}).items():
        node.fs.write(path, _file_bytes(content))
    now = dt.datetime.now(dt.timezone.utc)
    for event in spec.get("events", []):
        node.events.append({"time": (now - dt.timedelta(seconds=event.get("ago_s", 0))).isoformat(),
                            "id": event["id"], "source": event["source"], "level": event.get("level", "Error"),
                            "message": event["message"]})
    return node


def _file_bytes(content: Any) -> bytes:
    """A file's content: text, an installer manifest, a DTC log (`{dtc_log: readable}`, or `damaged`: one MSDTC
    cannot read), or a generated log of a given size."""
    if isinstance(content, str):
        return content.encode("utf-8")
    if "dtc_log" in content:
        if content["dtc_log"] not in ("readable", "damaged"):
            raise ScenarioError(f"dtc_log must be readable or damaged, not {content['dtc_log']!r}")
        return DTC_LOG_BYTES if content["dtc_log"] == "readable" else b"MSDTC\x00log\x00\xde\xad"
    if "installer" in content:
        return json.dumps(content["installer"]).encode("utf-8")
    size = int(content["generated_bytes"])
    line = "2026-11-01 02:00:00, Info CBS    Session: 31012345_1234567890 initialized by client WindowsUpdate.\r\n"
    return (line * (size // len(line) + 1)).encode("ascii")[:size]
