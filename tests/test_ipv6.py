"""A node named by an IPv6 address: the endpoint, the Host header and the connection all take it."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.model import ConnectionSpec
from enforcer.simulator import PASSWORD_ENV, simulate

AUDIT = str(Path(__file__).resolve().parents[1] / "playbooks" / "msdtc_audit.yml")


@pytest.mark.parametrize("host, endpoint", [
    ("::1", "http://[::1]:5985/wsman"),
    ("[::1]", "http://[::1]:5985/wsman"),
    ("fe80::2%eth0", "http://[fe80::2%25eth0]:5985/wsman"),
    ("10.0.0.5", "http://10.0.0.5:5985/wsman"),
    ("node-a.corp.example", "http://node-a.corp.example:5985/wsman"),
])
def test_the_endpoint_writes_an_ipv6_address_in_brackets(host, endpoint):
    assert ConnectionSpec(host=host).endpoint == endpoint


class _Forwarder:
    """[::1]:port -> the simulated node's IPv4 endpoint, one pumped pair of sockets per connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def test_a_node_at_an_ipv6_address_is_planned_over_ntlm(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENFORCER_STATE_DIR", str(tmp_path / "state"))
    with simulate("healthy", auth="ntlm", time_scale=0.005) as sim:
        monkeypatch.setenv(PASSWORD_ENV, sim.password)
        node_a = sim.endpoints[0]
        forwarder = _Forwarder((node_a.host, node_a.port))
        try:
            inventory = sim.inventory()
            hosts = inventory["all"]["children"]["clu1"]["hosts"]
            hosts[node_a.node] = {"ansible_host": "::1", "ansible_port": forwarder.port}
            path = tmp_path / "inventory.yml"
            path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
            assert main(["plan", AUDIT, "-i", str(path)]) == 0, capsys.readouterr()
        finally:
            forwarder.close()
    assert forwarder.accepted >= 1
