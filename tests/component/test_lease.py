"""The lease in process: taken in node order, kept by renewals, lost when someone unlocks it."""

from __future__ import annotations

import threading

import pytest

from enforcer import lease
from enforcer.inventory import load_inventory
from enforcer.locks import ClusterLocked


def test_a_renewal_that_finds_the_lease_gone_says_so_and_the_run_stops(in_process_sim, monkeypatch):
    monkeypatch.setattr(lease, "RENEW_EVERY_S", 0.01)
    sim = in_process_sim("healthy")
    clusters = load_inventory(sim.inventory).clusters
    with sim.connections() as connections:
        mine = lease.Leases("run-1", "2026-12-01T00:00:00+00:00", clusters, connections)
        mine.take()
        assert mine.held == {"CLU1": ["CLU1-A", "CLU1-B"]}
        with pytest.raises(ClusterLocked, match="run run-1"):
            lease.Leases("run-2", "2026-12-01T00:00:01+00:00", clusters, connections).take()
        lost = threading.Event()
        reasons: list[str] = []
        mine.keep(lambda cluster, why: (reasons.append(f"{cluster}: {why}"), lost.set()))
        mine.step("'a step' (service) on CLU1-A")
        removed = lease.unlock(clusters[0], connections)
        assert [holder["run_id"] for _, holder in removed] == ["run-1", "run-1"]
        assert lost.wait(10), "the renewer noticed"
        assert reasons[0] == "CLU1: the lease on CLU1-A was removed"
        mine.release_all()
        assert lease.holders(clusters[0], connections) == {}
