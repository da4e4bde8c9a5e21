"""The simulated machines' parts: nodes and their services, cluster groups and resources, the witness.

Plain data; the rules that join them (the KB's causality, membership, pause and drain) are the
cluster's, in model.py. SimError is what an op raises, with a catalogue error kind; Clock scales
simulated seconds to real ones.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from .stores import FileSystem, Registry

WITNESS_TYPES = {"disk": "Physical Disk", "file_share": "File Share Witness", "cloud": "Cloud Witness"}


class SimError(Exception):
    """An op failed on the simulated node; `kind` is one of the catalogue's error kinds."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Clock:
    """Simulated seconds scaled to real ones, so a 5 s service stop takes 50 ms at 0.01."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, sim_seconds: float) -> None:
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
        return "Paused" if self.paused else "Up"

    def log_event(self, event_id: int, source: str, message: str, level: str = "Error") -> None:
        self.events.append({"time": utcnow_iso(), "id": event_id, "source": source,
                            "level": level, "message": message})


@dataclass
class Resource:
    name: str
    type: str
    state: str = "Offline"


@dataclass
class Witness:
    """The cluster's witness: a vote; a disk witness also keeps a copy of the cluster database."""

    type: str  # disk, file_share or cloud
    name: str
    epoch: int = 0

    @property
    def keeps_database(self) -> bool:
        return self.type == "disk"


@dataclass
class Group:
    name: str
    owner: str
    state: str = "Offline"
    resources: list[Resource] = field(default_factory=list)
    drained_from: str | None = None  # the node a drain moved it off: Resume-ClusterNode -Failback brings it back
