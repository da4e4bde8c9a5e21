"""The simulated machines' parts: nodes and their services, cluster groups and resources, the witness.

Plain data; the rules that join them (the KB's causality, membership, pause and drain) are the
cluster's, in model.py. SimError is what an op raises, with a catalogue error kind; Clock scales
simulated seconds to real ones.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .stores import FileSystem, Registry

# WinRM's defaults (windows-facts §5.4): what node.info reports and the shells enforce.
WINRM_MAX_SHELLS_PER_USER = 30
WINRM_MAX_ENVELOPE_KB = 500
WITNESS_TYPES = {"disk": "Physical Disk", "file_share": "File Share Witness", "cloud": "Cloud Witness"}


class SimError(Exception):
    """An op failed on the simulated node; `kind` is one of the catalogue's error kinds."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class ProcessKilled(Exception):
    """The agent's process tree was killed (its command terminated, its shell deleted): the op stops where it is."""


STATUS_CONTROL_C_EXIT = -1073741510  # what a killed console process reports as its exit code
_AGENT = threading.local()  # the thread running an agent: how its process tree dies (agent_process)


@contextlib.contextmanager
def agent_process(killed: threading.Event, spare_steps: int | None = None) -> Iterator[None]:
    """Run an op as the agent's own process tree: a killable sleep (work done by a child process, msdtc.exe or an
    installer) ends at once when `killed` is set. With `spare_steps`, the tree dies at the killable step after
    that many: half-way through an op that has two."""
    _AGENT.killed, _AGENT.spare = killed, spare_steps
    try:
        yield
    finally:
        _AGENT.killed = _AGENT.spare = None


class Clock:
    """Simulated seconds scaled to real ones, so a 5 s service stop takes 50 ms at 0.01."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._start = time.monotonic()

    def now(self) -> float:
        """Simulated seconds since the simulation started (none pass at scale 0, where nothing sleeps)."""
        return (time.monotonic() - self._start) / self.scale if self.scale > 0 else 0.0

    def sleep(self, sim_seconds: float, killable: bool = False) -> None:
        """`killable`: the agent's own process does this work, and dies with its shell (windows-facts §5.3); work
        the Service Control Manager or the cluster service does goes on whatever happens to the agent."""
        killed = getattr(_AGENT, "killed", None) if killable else None
        if killed is not None:
            spare = _AGENT.spare
            if spare is not None:
                _AGENT.spare = spare - 1
                if spare <= 0:
                    killed.set()
            if killed.is_set() or (sim_seconds > 0 and self.scale > 0 and killed.wait(sim_seconds * self.scale)):
                raise ProcessKilled()
            return
        if sim_seconds > 0 and self.scale > 0:
            time.sleep(sim_seconds * self.scale)


def utcnow_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


@dataclass
class Service:
    name: str
    display_name: str
    status: str = "Stopped"
    start_type: str = "Automatic"
    start_s: float = 2.0
    stop_s: float = 1.0
    # Its key under HKLM\SYSTEM\CurrentControlSet\Services was deleted by hand while Windows ran: the SCM
    # keeps the service without its configuration until a reboot (windows-facts §1.6; the cautious case).
    key_deleted: bool = False


@dataclass
class Node:
    name: str
    registry: Registry = field(default_factory=Registry)
    fs: FileSystem = field(default_factory=FileSystem)
    services: dict[str, Service] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    db_epoch: int = 0
    paused: bool = False
    joining: bool = False  # ClusSvc runs, waiting for a quorum of votes to form the cluster
    cluster_module: bool = True  # the FailoverClusters PowerShell module (RSAT-Clustering-PowerShell)
    account_admin: bool = True  # whether the simulator's account holds an Administrators token here
    os_build: int = 17763  # WS2019; 20348 (WS2022) reports a partition in time as event 5398
    boot_time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7))

    def service(self, name: str) -> Service:
        svc = self.services.get(name.lower())
        if svc is None:
            raise SimError("not_found", f"Cannot find any service with service name '{name}'.")
        return svc

    @property
    def state(self) -> str:
        svc = self.services.get("clussvc")
        if svc is None or svc.status != "Running":
            return "Down"
        if self.joining:
            return "Joining"
        return "Paused" if self.paused else "Up"

    def log_event(self, event_id: int, source: str, message: str, level: str = "Error") -> None:
        self.events.append({"time": utcnow_iso(), "id": event_id, "source": source,
                            "level": level, "message": message})


@dataclass
class Resource:
    """A cluster resource. `params` holds its private properties as the model uses them: a Physical Disk's
    `drive`, an IP Address's `address` or `dhcp`, a DTC's `log` folder once it has made one."""

    name: str
    type: str
    state: str = "Offline"
    depends_on: list[str] = field(default_factory=list)
    possible_owners: list[str] | None = None  # None: every node of the cluster
    params: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # its GUID, as Get-ClusterResource shows it: a clustered DTC's log folder is named after it


@dataclass
class Network:
    """A cluster network: an IP Address resource lives on one; `dhcp` is whether a DHCP server answers there."""

    name: str
    address: str
    mask: str
    role: str = "cluster_and_client"  # none, cluster, cluster_and_client (Get-ClusterNetwork's Role 0, 1, 3)
    dhcp: bool = False


@dataclass
class Witness:
    """The cluster's witness: a vote; a disk witness also keeps a copy of the cluster database."""

    type: str  # disk, file_share or cloud
    name: str
    epoch: int = 0
    state: str = "Online"  # a Failed or Offline witness has no vote, and a disk witness gives no copy

    @property
    def keeps_database(self) -> bool:
        return self.type == "disk" and self.state == "Online"

    @property
    def votes(self) -> int:
        return 1 if self.state == "Online" else 0


@dataclass
class Group:
    name: str
    owner: str
    state: str = "Offline"
    resources: list[Resource] = field(default_factory=list)
    drained_from: str | None = None  # the node a drain moved it off: Resume-ClusterNode -Failback brings it back
    persistent_online: bool = True  # brought online, not taken offline, last: a formation brings it back online
    failover_threshold: int | None = None  # failovers allowed within failover_period_h; None: nodes - 1
    failover_period_h: float = 6.0
    failovers: list[float] = field(default_factory=list)  # when it failed over, in simulated seconds

    def resource(self, name: str) -> Resource | None:
        return next((r for r in self.resources if r.name.lower() == name.lower()), None)
