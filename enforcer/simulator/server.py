"""A running simulation: clusters from a scenario, one WinRM endpoint per node.

Used four ways: `enforcer sim` serves it until SIGINT/SIGTERM; tests start
it in-process with `simulate(...)` or the `sim` fixture; `enforcer demo`
embeds it; component tests build it with `simulate(..., serve=False)`, no
listener at all, and reach its nodes through `op_host`. Every node gets its
own 127.x address on one port where that can be bound (5985/5986 first),
else its own port on 127.0.0.1.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from . import AUTH_MODES, PASSWORD_ENV, scenarios
from .agent_host import OpHost
from .control import ControlServer
from .drift import apply_drift
from .entities import Clock
from .faults import FaultBook, parse_fault
from .httpd import Endpoint, WinRMServer
from .journal import Journal
from .kdc import Kdc
from .model import Cluster
from .ops import OPS, OpContext
from .tls import make_server_context
from .winrs import NodeShells

IDLE_CONNECTION_S = 120  # HTTP.sys' IdleConnection timeout (windows-facts §5.5)
IDLE_FLOOR_S = 5.0

class Simulation:
    def __init__(self, scenario: str = "kb252641-broken", *, clusters: int = 1, nodes: int = 2,
                 auth: str = "ntlm", user: str = "enforcer", password: str | None = None, domain: str = "SIMLAB",
                 latency_ms: float = 0.0, time_scale: float = 0.01, faults: list[str] | tuple[str, ...] = (),
                 journal_path: str | None = None, control_port: int | None = None, first_cluster: int = 1,
                 credssp_tls: str = "1.3", idle_timeout_s: float | None = None) -> None:
        """`first_cluster`: the number of the first cluster (CLU<n> on 127.1.<n>.x), so simulators side by side
        (each a process of its own, as a fleet is many machines) serve one fleet without clashing."""
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
        if not 1 <= clusters <= 1000 or not 2 <= nodes <= 26:
            raise ValueError("clusters must be 1..1000 and nodes 2..26 (a failover cluster has two nodes or more)")
        if not 1 <= first_cluster <= 1000:
            raise ValueError("the first cluster's number must be 1..1000")
        self.scenario_name = scenario
        self.auth = auth
        self.user = user
        self.password = password or secrets.token_urlsafe(12)
        self.domain = domain
        self.clock = Clock(time_scale)
        self.journal = Journal(journal_path)
        self.faults = FaultBook()
        for spec in faults:
            self.add_fault(spec)
        scenario_data = scenarios.load(scenario)
        self.clusters: list[Cluster] = [
            scenarios.build_cluster(scenario_data, first_cluster + i, nodes, self.clock, self.journal, self.faults)
            for i in range(clusters)]
        self.op_host = OpHost(self.clusters, self.clock, f"{domain}\\{user}")  # the nodes' agent without HTTP
        self._first = first_cluster
        self._tmp = tempfile.mkdtemp(prefix="enforcer-sim-")
        self.ca_path: str | None = None
        self.endpoints: list[Endpoint] = []
        self._latency_ms = latency_ms
        self._control_port = control_port
        self.control: ControlServer | None = None
        self.server: WinRMServer | None = None
        self.kdc: Kdc | None = None  # --auth kerberos: the realm's KDC
        self.realm = f"{domain.upper()}.TEST"
        if credssp_tls not in ("1.2", "1.3"):
            raise ValueError(f"the CredSSP TLS version must be 1.2 or 1.3, not {credssp_tls!r}")
        self.credssp_tls = credssp_tls  # the highest TLS version a CredSSP listener negotiates
        # HTTP.sys' idle close, scaled; but never under 5 real seconds: a handshake's own CPU time is not scaled,
        # and a CredSSP or NTLM handshake cut by an idle close could never happen on Windows
        self.idle_timeout_s = idle_timeout_s if idle_timeout_s is not None else \
            max(IDLE_FLOOR_S, IDLE_CONNECTION_S * time_scale) if time_scale > 0 else None

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> Simulation:
        hosts = [[_address(self._first + ci, ni) for ni in range(len(c.nodes))] for ci, c in enumerate(self.clusters)]
        flat = [h for per_cluster in hosts for h in per_cluster]
        sockets, bound_hosts = _bind_all(flat, self._port)
        tls = None
        if self.scheme == "https":
            tls, self.ca_path = make_server_context(self._tmp, bound_hosts,
                                                    self.user if self.auth == "certificate" else None)
        if self.auth == "kerberos":
            self.kdc = Kdc(Path(self._tmp) / "kdc", self.realm, self.user, self.password,
                           [self.service_host(n.name) for c in self.clusters for n in c.nodes])
            self.kdc.start()
        self.server = WinRMServer(self.auth, self.domain, self.user, self.password, self.faults,
                                  self._latency_ms, tls, self.kdc, idle_timeout_s=self.idle_timeout_s,
                                  credssp_tls=self.credssp_tls)
        it = iter(zip(sockets, bound_hosts, strict=True))
        for cluster in self.clusters:
            for node in cluster.nodes:
                sock, host = next(it)
                shells = NodeShells(OpContext(cluster, node, f"{self.domain}\\{self.user}"), self.clock, self.domain,
                                    self.user)
                endpoint = Endpoint(cluster.name, node.name, host, sock.getsockname()[1], shells, sock)
                self.server.add(endpoint)
                self.endpoints.append(endpoint)
        self.server.start()
        if self._control_port is not None:
            self.control = ControlServer(self, self._control_port)
            self.control.start()
        return self

    def stop(self) -> None:
        if self.control:
            self.control.stop()
        if self.server:
            self.server.stop()
        if self.kdc:
            self.kdc.stop()
        self.journal.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Simulation:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what tests and the control endpoint use -----------------------------------
    def add_fault(self, spec: str) -> None:
        self.faults.add(parse_fault(spec, frozenset(OPS)))

    def drift(self, change: dict[str, Any]) -> dict[str, Any]:
        return apply_drift(self.clusters, change)

    def cluster(self, name: str) -> Cluster:
        return next(c for c in self.clusters if c.name.lower() == name.lower())

    def endpoint(self, node: str) -> Endpoint:
        return next(e for e in self.endpoints if e.node.lower() == node.lower())

    def state(self) -> dict[str, Any]:
        return {"scenario": self.scenario_name, "clusters": [c.snapshot() for c in self.clusters],
                "faults": self.faults.snapshot(), "requests": dict(self.server.requests) if self.server else {}}

    def inventory(self) -> dict[str, Any]:
        """An Ansible YAML inventory of the simulated clusters; the password comes from the environment."""
        scheme = self.scheme
        kerberos = self.auth == "kerberos"
        common: dict[str, Any] = {
            "ansible_connection": "winrm", "ansible_user": f"{self.user}@{self.realm}" if kerberos else self.user,
            "ansible_password": "{{ lookup('env', '" + PASSWORD_ENV + "') }}",
            "ansible_winrm_transport": {"ntlm": "ntlm", "kerberos": "kerberos", "certificate": "certificate",
                                        "credssp-http": "credssp", "credssp-https": "credssp"}.get(self.auth, "basic"),
            "ansible_winrm_scheme": scheme,
        }
        if self.auth == "certificate":  # the account comes from the certificate: no password
            del common["ansible_password"]
            common["ansible_winrm_cert_pem"] = str(Path(self._tmp) / "client.pem")
            common["ansible_winrm_cert_key_pem"] = str(Path(self._tmp) / "client.key")
        if scheme == "https":
            common["ansible_winrm_server_cert_validation"] = "validate"
            common["ansible_winrm_ca_trust_path"] = self.ca_path
        if self.auth == "basic-http":
            common["ansible_winrm_allow_insecure"] = True
        children = {}
        for cluster in self.clusters:
            children[cluster.name.lower()] = {
                "vars": {"cluster_name": cluster.name},
                "hosts": {node: {"ansible_host": host, "ansible_port": port,
                                 # the nodes are served on loopback addresses: their service principals name them
                                 **({"ansible_winrm_kerberos_hostname_override": self.service_host(node)}
                                    if kerberos else {})}
                          for name, node, host, port in self._addresses() if name == cluster.name},
            }
        return {"all": {"vars": common, "children": children}}

    def _addresses(self) -> list[tuple[str, str, str, int]]:
        """(cluster, node, host, port) per node: where it is served, or, unserved, where it would be tried first."""
        if self.server:
            return [(e.cluster, e.node, e.host, e.port) for e in self.endpoints]
        return [(c.name, n.name, _address(self._first + ci, ni), self._port)
                for ci, c in enumerate(self.clusters) for ni, n in enumerate(c.nodes)]

    @property
    def scheme(self) -> str:
        return "https" if self.auth in ("basic-https", "certificate", "credssp-https") else "http"

    @property
    def _port(self) -> int:
        return 5986 if self.scheme == "https" else 5985

    def service_host(self, node: str) -> str:
        """The DNS name a node's HTTP service principal carries under --auth kerberos (HTTP/clu1-a.simlab.test)."""
        return f"{node.lower()}.{self.realm.lower()}"

    def write_inventory(self, path: str, **extra_vars: Any) -> None:
        """Write the inventory; `extra_vars` go to `all.vars` (e.g. shorter WinRM timeouts for a test). Under
        --auth kerberos the realm's krb5.conf is written beside it (export KRB5_CONFIG to use it)."""
        if self.kdc is not None:
            shutil.copyfile(self.kdc.krb5_conf, krb5_conf_path(path))
        inventory = self.inventory()
        inventory["all"]["vars"].update(extra_vars)
        header = (f"# Written by `enforcer sim --scenario {self.scenario_name}`: {len(self.clusters)} cluster(s).\n"
                  f"# The password is read from ${PASSWORD_ENV}; it is never stored here.\n")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(header + yaml.safe_dump(inventory, sort_keys=False))


def krb5_conf_path(inventory_path: str) -> str:
    return str(Path(inventory_path).with_name("krb5.conf"))


def _address(cluster_number: int, node_index: int) -> str:
    """CLU<n>'s node i on 127.1.<n>.<i+1>; past cluster 255 the next octet carries on (CLU256 on 127.2.0.x)."""
    return f"127.{1 + cluster_number // 256}.{cluster_number % 256}.{node_index + 1}"


def _bind_all(hosts: list[str], preferred_port: int) -> tuple[list[socket.socket], list[str]]:
    """Bind every host on one shared port, or fall back to distinct ports on 127.0.0.1."""
    for port in [preferred_port] + [0] * 10:
        sockets: list[socket.socket] = []
        try:
            for host in hosts:
                sock = _listener(host, port)
                sockets.append(sock)
                port = sock.getsockname()[1]
            return sockets, hosts
        except OSError:
            for sock in sockets:
                sock.close()
    sockets = [_listener("127.0.0.1", 0) for _ in hosts]
    return sockets, ["127.0.0.1"] * len(hosts)


def _listener(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def simulate(scenario: str = "kb252641-broken", *, serve: bool = True, **options: Any) -> Iterator[Simulation]:
    """Start a simulation on free loopback ports for the duration of a `with` block.

    `serve=False` opens no port: the nodes answer only through `op_host` (the in-process transport), so a
    component test costs no HTTP, no authentication and no real timeout.
    """
    sim = Simulation(scenario, **options)
    if serve:
        sim.start()
    try:
        yield sim
    finally:
        sim.stop()
