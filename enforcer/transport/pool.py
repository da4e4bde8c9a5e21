"""One transport per node for the length of a run, opened on first use, closed together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..model import ConnectionSpec, Inventory
from .base import Transport
from .winrm import WinRMTransport

TransportFactory = Callable[[str, ConnectionSpec], Transport]


class Connections:
    def __init__(self, inventory: Inventory, forks: int = 10, factory: TransportFactory | None = None) -> None:
        self.inventory = inventory
        self._specs = {n.name: n.connection for c in inventory.clusters for n in c.nodes}
        self._factory = factory or WinRMTransport
        self._open: dict[str, Transport] = {}
        self._lock = threading.Lock()
        self.forks = forks  # how many shells are closed at once, like every other node operation of the run

    def get(self, node: str) -> Transport:
        with self._lock:
            if node not in self._open:
                self._open[node] = self._factory(node, self._specs[node])
            return self._open[node]

    def apart(self) -> Connections:
        """Connections of their own to the same nodes, for calls made while this pool's shells are busy."""
        return Connections(self.inventory, 1, self._factory)

    def account(self, node: str) -> tuple[str, ...]:
        """What identifies the credentials a node is reached with: nodes that share them share a lockout count."""
        spec = self._specs[node]
        return spec.auth, spec.user.lower(), spec.password, spec.cert_pem or ""

    def reset(self, node: str) -> None:
        """Drop a node's connection after a lost answer; the next call opens a fresh shell."""
        with self._lock:
            transport = self._open.pop(node, None)
        if transport is not None:
            transport.close()

    def close(self) -> None:
        """Close every shell, --forks at a time: closing is one round trip per node, like any other."""
        with self._lock:
            transports, self._open = list(self._open.values()), {}
        if self.forks <= 1 or len(transports) <= 1:
            for transport in transports:
                transport.close()
            return
        with ThreadPoolExecutor(max_workers=min(self.forks, len(transports))) as pool:
            list(pool.map(lambda transport: transport.close(), transports))

    def __enter__(self) -> Connections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
