"""Ansible's YAML inventory, read as clusters of ordered nodes.

A cluster is a group whose own vars set `cluster_name`; its hosts, in file
order (or `cluster_node_order`), are nodes A, B, ... Variables merge as
Ansible merges them: `all` < parent groups < child groups < host vars.
Nodes are reached through the usual `ansible_*` connection variables.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ansible_inventory
from .errors import InputError
from .model import Cluster, ConnectionSpec, Inventory, Node
from .templating import Scope, is_template, protect_env, reading_secrets, render
from .yamlsource import kind_of, load_yaml, where

_ENV_LOOKUP = re.compile(r"lookup\(\s*['\"]env['\"]\s*,\s*['\"]([^'\"]+)['\"]")  # the variable a password reads
TRANSPORTS = ("ntlm", "basic", "kerberos", "credssp", "certificate")
PASSWORD_TRANSPORTS = ("ntlm", "basic", "credssp")
_GROUP_KEYS = {"hosts", "vars", "children"}


@dataclass
class _Group:
    name: str
    depth: int
    vars: dict[str, Any]
    location: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    var_locations: dict[str, str] = field(default_factory=dict)

    def where(self, var: str) -> str:
        return self.var_locations.get(var, self.location)


@dataclass
class _Host:
    name: str
    location: str
    vars: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.groups: dict[str, _Group] = {}
        self.hosts: dict[str, _Host] = {}
        self._descendants: dict[str, list[str]] = {}  # filled after parsing, when groups no longer change
        self._memberships: dict[str, set[str]] | None = None  # host -> every group holding it, likewise

    def group(self, name: str, body: Any, depth: int, location: str, parent: str | None) -> None:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise InputError(f"group {name!r} must be a mapping of hosts/vars/children, got {kind_of(body)}", location)
        unknown = set(body) - _GROUP_KEYS
        if unknown:
            key = sorted(unknown, key=str)[0]
            raise InputError(f"group {name!r} has unknown key {key!r}; expected hosts, vars or children",
                             where(body, location, key))
        group = self.groups.setdefault(name, _Group(name, depth, {}, location))
        group.depth = max(group.depth, depth)
        group_vars = body.get("vars") or {}
        if not isinstance(group_vars, dict):
            raise InputError(f"vars of group {name!r} must be a mapping", where(body, location, "vars"))
        group.vars.update(group_vars)
        group.var_locations.update({k: where(group_vars, location, k) for k in group_vars})
        if parent and name not in self.groups[parent].children:
            self.groups[parent].children.append(name)
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise InputError(f"hosts of group {name!r} must be a mapping of host names", where(body, location, "hosts"))
        for pattern, host_vars in hosts.items():
            host_location = where(hosts, location, pattern)
            if host_vars is not None and not isinstance(host_vars, dict):
                raise InputError(f"host {pattern!r} must map to its vars (or nothing), got {kind_of(host_vars)}",
                                 host_location)
            for host_name in expand_range(str(pattern), host_location):
                host = self.hosts.setdefault(host_name, _Host(host_name, host_location))
                host.vars.update(host_vars or {})
                host.groups.append(name)
                if host_name not in group.hosts:
                    group.hosts.append(host_name)
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise InputError(f"children of group {name!r} must be a mapping of groups",
                             where(body, location, "children"))
        for child, child_body in children.items():
            if child == name or self._is_ancestor(str(child), name):
                raise InputError(f"group {child!r} is its own ancestor", where(children, location, child))
            self.group(str(child), child_body, depth + 1, where(children, location, child), name)

    def _is_ancestor(self, candidate: str, of: str) -> bool:
        stack = [candidate]
        while stack:
            current = stack.pop()
            if current == of:
                return True
            stack += self.groups[current].children if current in self.groups else []
        return False

    def descendants_hosts(self, name: str) -> list[str]:
        if name not in self._descendants:
            group = self.groups[name]
            hosts = dict.fromkeys(group.hosts)
            for child in group.children:
                hosts.update(dict.fromkeys(self.descendants_hosts(child)))
            self._descendants[name] = list(hosts)
        return self._descendants[name]

    def groups_of(self, host: str) -> set[str]:
        """Every group holding the host, directly or through its children (computed once for all hosts)."""
        if self._memberships is None:
            self._memberships = {}
            for group in self.groups:
                for member in self.descendants_hosts(group):
                    self._memberships.setdefault(member, set()).add(group)
        return self._memberships.get(host, set())

    def merged_vars(self, hosts: list[str]) -> dict[str, Any]:
        """Vars of the groups holding all of `hosts`, in Ansible's order: all, then by depth (then name)."""
        merged: dict[str, Any] = dict(self.groups["all"].vars) if "all" in self.groups else {}
        holding = set.intersection(*(self.groups_of(h) for h in hosts)) if hosts else set(self.groups)
        groups = holding - {"all"}
        for group in sorted(groups, key=lambda g: (self.groups[g].depth, _priority(self.groups[g]), g)):
            merged.update(self.groups[group].vars)
        return merged

    def host_vars(self, host: _Host) -> dict[str, Any]:
        merged = {**self.merged_vars([host.name]), **host.vars}
        merged.pop("ansible_group_priority", None)  # the group's rank, as Ansible keeps it: not a variable
        return merged


_RANGE = re.compile(r"^(.*?)\[([0-9]+|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\](.*)$")


def expand_range(pattern: str, location: str) -> list[str]:
    """Ansible's host ranges: `node[01:04]` (zero padding kept), `db-[a:c]`, `n[0:10:5]` (a step); nested
    ranges expand left to right. A name without one is itself."""
    match = _RANGE.match(pattern)
    if not match:
        return [pattern]
    head, first, last, step, tail = match.groups()
    stride = int(step or 1)
    if first.isdigit() != last.isdigit() or stride < 1:
        raise InputError(f"host range {pattern!r}: expected [start:end] or [start:end:step], both numbers or both "
                         f"letters", location)
    if first.isdigit():
        width = len(first) if first.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(first), int(last) + 1, stride)]
    else:
        items = [chr(c) for c in range(ord(first), ord(last) + 1, stride)]
    if not items or len(items) > 10_000:
        raise InputError(f"host range {pattern!r} gives {len(items)} hosts; expected 1 to 10,000", location)
    return [name for item in items for name in expand_range(f"{head}{item}{tail}", location)]


def _priority(group: _Group) -> int:
    """ansible_group_priority: among groups of one depth, the higher is merged later (wins), as in Ansible."""
    try:
        return int(group.vars.get("ansible_group_priority", 1))
    except (TypeError, ValueError):
        return 1


def load_inventory(path: str | Path, vault_secrets: list[tuple[str, str]] | None = None) -> Inventory:
    """Read an inventory as Ansible does: a YAML file by enforcer's reader (file:line in every message), anything
    else (INI, a directory, group_vars/host_vars beside it, vault values) through ansible-core first."""
    secrets: list[str] = []
    if ansible_inventory.needed(Path(path)):
        data, secrets = ansible_inventory.read(Path(path), vault_secrets)
    else:
        data = load_yaml(path, "inventory")
    source = str(path)
    if not isinstance(data, dict):
        raise InputError(f"an inventory must be a mapping of groups (e.g. all:), got {kind_of(data)}", f"{source}:1")
    reader = _Reader(source)
    for name, body in data.items():
        if name == "all":
            reader.group("all", body, 0, where(data, source, name), None)
    reader.groups.setdefault("all", _Group("all", 0, {}, f"{source}:1"))
    for name, body in data.items():
        if name != "all":  # top-level groups other than all are its children
            reader.group(str(name), body, 1, where(data, source, name), "all")
    inventory = _clusters(reader, source)
    inventory.secrets = secrets
    return inventory


def _clusters(reader: _Reader, source: str) -> Inventory:
    """Shape first (names, node counts, one cluster per node), then each node's connection."""
    shapes: list[tuple[_Group, str, list[str]]] = []
    owner: dict[str, str] = {}
    for group in reader.groups.values():
        if "cluster_name" not in group.vars:
            continue
        location = group.where("cluster_name")
        cluster_name = _cluster_name(group.vars["cluster_name"], location)
        if any(name == cluster_name for _, name, _ in shapes):
            raise InputError(f"cluster_name {cluster_name!r} is set by two groups", location)
        names = _node_order(reader, group)
        if len(names) < 2:
            raise InputError(f"cluster {cluster_name!r} (group {group.name!r}) has {len(names)} node(s); a "
                             f"failover cluster needs at least two", location)
        for host_name in names:
            if host_name in owner:
                raise InputError(f"host {host_name!r} is a node of two clusters: {owner[host_name]!r} and "
                                 f"{cluster_name!r}", reader.hosts[host_name].location)
            owner[host_name] = cluster_name
        shapes.append((group, cluster_name, names))
    clusters: list[Cluster] = []
    warnings: list[str] = []
    for group, cluster_name, names in shapes:
        nodes = []
        for host_name in names:
            host = reader.hosts[host_name]
            host_vars = reader.host_vars(host)
            connection, warning = _connection(host, host_vars)
            if warning:
                warnings.append(warning)
            nodes.append(Node(host_name, cluster_name, connection, host_vars))
        clusters.append(Cluster(cluster_name, group.name, nodes, reader.merged_vars(names)))
    groups = {g: [h for h in reader.descendants_hosts(g) if h in owner] for g in reader.groups}
    return Inventory(source, clusters, groups, warnings)


# A failover cluster's name: a NetBIOS name (15 characters at most) or a DNS name (labels of letters, digits and
# hyphens, 63 characters each). It also names files under the state directory (locks), so nothing else passes:
# no separators, no '..', no spaces or control characters.
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                           r"[A-Za-z0-9])?)*")


def _cluster_name(value: Any, location: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) \
            or not _CLUSTER_NAME.fullmatch(str(value)) or len(str(value)) > 253:
        raise InputError(f"cluster_name {value!r} is not a cluster's name: expected letters, digits and hyphens "
                         f"(a NetBIOS or DNS name, e.g. CLU1 or clu1.corp.example)", location)
    return str(value)


def _node_order(reader: _Reader, group: _Group) -> list[str]:
    hosts = reader.descendants_hosts(group.name)
    order = group.vars.get("cluster_node_order")
    if order is None:
        return hosts
    location = group.where("cluster_node_order")
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(hosts):
        raise InputError(f"cluster_node_order must list exactly the group's hosts ({', '.join(hosts)})", location)
    return [str(h) for h in order]


def _connection(host: _Host, host_vars: dict[str, Any]) -> tuple[ConnectionSpec, str | None]:
    """The node's ConnectionSpec; a warning when its password is written in the inventory."""
    location = host.location
    scope = Scope(host_vars, {"inventory_hostname": host.name}, where=location)

    def var(name: str, default: Any = None) -> Any:
        if name not in host_vars:
            return default
        return render(host_vars[name], scope, location)

    transport = str(var("ansible_winrm_transport", "ntlm")).lower()
    if transport not in TRANSPORTS:
        raise InputError(f"host {host.name}: ansible_winrm_transport must be one of {', '.join(TRANSPORTS)}, "
                         f"not {transport!r}", location)
    port = _integer(var("ansible_port", 5985), "ansible_port", host.name, location, 1, 65535)
    scheme = str(var("ansible_winrm_scheme", "https" if port == 5986 else "http")).lower()
    if scheme not in ("http", "https"):
        raise InputError(f"host {host.name}: ansible_winrm_scheme must be http or https", location)
    validation = str(var("ansible_winrm_server_cert_validation", "validate")).lower()
    if validation not in ("validate", "ignore"):
        raise InputError(f"host {host.name}: ansible_winrm_server_cert_validation must be validate or ignore",
                         location)
    insecure = str(var("ansible_winrm_allow_insecure", False)).strip().lower() in ("true", "yes", "1", "on")
    if transport == "basic" and scheme == "http" and not insecure:
        raise InputError(f"host {host.name}: Basic authentication over plain HTTP sends the password in clear; "
                         f"use HTTPS, NTLM, or set ansible_winrm_allow_insecure: true", location)
    op_timeout = _integer(var("ansible_winrm_operation_timeout_sec", 20), "ansible_winrm_operation_timeout_sec",
                          host.name, location, 1, 3600)
    read_timeout = _integer(var("ansible_winrm_read_timeout_sec", 30), "ansible_winrm_read_timeout_sec",
                            host.name, location, 2, 3600)
    if read_timeout <= op_timeout:
        raise InputError(f"host {host.name}: ansible_winrm_read_timeout_sec ({read_timeout}) must exceed "
                         f"ansible_winrm_operation_timeout_sec ({op_timeout})", location)
    raw_password = host_vars.get("ansible_password", host_vars.get("ansible_winrm_password"))
    warning = None
    if raw_password is not None and not is_template(raw_password):
        warning = (f"{location}: host {host.name}: the password is written in plain text in the inventory; use "
                   f"\"{{{{ lookup('env', 'ENFORCER_PASSWORD') }}}}\" instead")
    for name in ("ansible_password", "ansible_winrm_password"):
        protect_env(set(_ENV_LOOKUP.findall(str(host_vars.get(name, "")))))
    with reading_secrets():
        password = var("ansible_password", var("ansible_winrm_password", ""))
    user = var("ansible_user", "") or ""
    for name, value in (("ansible_user", user), ("ansible_password", password)):
        if value is not None and not isinstance(value, (str, int)):
            raise InputError(f"host {host.name}: {name} must be a string, not {kind_of(value)}", location)
    user = str(user)
    if transport in PASSWORD_TRANSPORTS and not user:
        raise InputError(f"host {host.name}: ansible_user is required with ansible_winrm_transport {transport}",
                         location)
    cert_pem, cert_key_pem = var("ansible_winrm_cert_pem"), var("ansible_winrm_cert_key_pem")
    if transport == "certificate" and scheme != "https":
        raise InputError(f"host {host.name}: certificate authentication works over HTTPS only (the certificate is "
                         f"the TLS client's); set ansible_winrm_scheme: https, ansible_port: 5986", location)
    if transport == "certificate":
        for name, value in (("ansible_winrm_cert_pem", cert_pem), ("ansible_winrm_cert_key_pem", cert_key_pem)):
            if not value or not Path(str(value)).is_file():
                raise InputError(f"host {host.name}: certificate authentication needs {name} naming a PEM file"
                                 + (f"; {value} does not exist" if value else ""), location)
    delegation = str(var("ansible_winrm_kerberos_delegation", False)).strip().lower() in ("true", "yes", "1", "on")
    override = var("ansible_winrm_kerberos_hostname_override")
    return ConnectionSpec(
        host=_address(var("ansible_host", host.name), host.name, location), port=port, scheme=scheme, auth=transport,
        user=user, password="" if password is None else str(password), cert_pem=cert_pem, cert_key_pem=cert_key_pem,
        cert_validation=validation == "validate", ca_trust_path=var("ansible_winrm_ca_trust_path"),
        operation_timeout_s=op_timeout, read_timeout_s=read_timeout,
        kerberos_hostname_override=str(override) if override else None, kerberos_delegation=delegation), warning


_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?")


def _address(value: Any, host: str, location: str) -> str:
    """ansible_host: an IPv4 or IPv6 address (a zone after %) or a host name; anything else is invalid input."""
    text = str(value).strip()
    try:
        if ":" in text:
            ipaddress.IPv6Address(text.strip("[]").split("%", 1)[0])
            return text
        ipaddress.IPv4Address(text)
        return text
    except ValueError:
        if ":" not in text and _HOSTNAME.fullmatch(text) and len(text) <= 253:
            return text
    raise InputError(f"host {host}: ansible_host {text!r} is not an IP address or a host name", location)


def missing_passwords(inventory: Inventory) -> list[Node]:
    """Nodes whose transport needs a password and whose ansible_password rendered empty."""
    return [n for c in inventory.clusters for n in c.nodes
            if n.connection.auth in PASSWORD_TRANSPORTS and not n.connection.password]


def _integer(value: Any, name: str, host: str, location: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"host {host}: {name} must be a whole number, not {value!r}", location) from None
    if not low <= number <= high or isinstance(value, bool):
        raise InputError(f"host {host}: {name} must be between {low} and {high}, not {value!r}", location)
    return number




def describe(inventory: Inventory) -> dict[str, Any]:
    """The inventory as `enforcer inventory` shows it: clusters, ordered nodes, how each is reached."""
    return {"inventory": inventory.source, "clusters": [
        {"name": c.name, "group": c.group, "nodes": [
            {"name": n.name, "order": chr(ord("A") + i), "endpoint": n.connection.endpoint,
             "transport": n.connection.auth, "user": n.connection.user,
             "password": "set" if n.connection.password else "not set",
             "cert_validation": n.connection.cert_validation, "ca_trust_path": n.connection.ca_trust_path}
            for i, n in enumerate(c.nodes)]} for c in inventory.clusters],
        "warnings": inventory.warnings}
