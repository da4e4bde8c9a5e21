"""The simulator's pure parts: fault specs, scenarios, stores, backup formats, cluster rules."""

from __future__ import annotations

import pytest

from enforcer.simulator import (
    FaultSpecError,
    ScenarioError,
    available_scenarios,
    backup_formats,
    parse_fault,
    scenarios,
)
from enforcer.simulator.entities import Clock, Service, SimError
from enforcer.simulator.faults import FaultBook
from enforcer.simulator.journal import Journal
from enforcer.simulator.ops import OPS, OpContext
from enforcer.simulator.stores import FileSystem, Registry, norm_key, norm_path


@pytest.mark.parametrize("spec,expected", [
    ("node=CLU1-B,on=cluster.service.stop,kind=wsman", ("CLU1-B", "cluster.service.stop", "wsman", None, 0)),
    ("node=*,on=any,kind=slow,ms=250", ("*", "any", "slow", None, 250)),
    ("node=A,on=service:ClusSvc:start,kind=fail,count=2", ("A", "service:ClusSvc:start", "fail", 2, 0)),
    ("node=A, on=group:MSDTC:online, kind=fail", ("A", "group:MSDTC:online", "fail", None, 0)),
    ("node=A,on=any,kind=close,count=1", ("A", "any", "close", 1, 0)),
    ("node=A,on=wsman:send:cluster.service.stop,kind=optimeout,count=1",
     ("A", "wsman:send:cluster.service.stop", "optimeout", 1, 0)),
    ("node=A,on=wsman:command,kind=optimeout", ("A", "wsman:command", "optimeout", None, 0)),
])
def test_fault_specs_parse(spec, expected):
    f = parse_fault(spec, frozenset(OPS))
    assert (f.node, f.on, f.kind, f.count, f.ms) == expected


@pytest.mark.parametrize("spec,message", [
    ("node=A,on=any", "missing kind="), ("node=A,on=any,kind=melt", "kind must be one of"),
    ("node=A,on=service:X:restart,kind=fail", "on= must be"), ("node=A,on=registry.frob,kind=fail", "on= must be"),
    ("node=A,on=any,kind=slow", "needs ms="), ("node=A,on=service:X:stop,kind=close", "needs on=any"),
    ("node=A,on=any,kind=fail,count=0", "count must be >= 1"), ("node=A,on=any,kind=fail,when=now", "unknown"),
    ("node=A,on=any,kind=fail,count=x", "whole numbers"), ("nonsense", "expected key=value"),
    ("node=A,on=any,kind=optimeout", "kind=optimeout goes with"), ("node=A,on=wsman:send,kind=fail", "goes with"),
    ("node=A,on=wsman:command:facts,kind=optimeout", "on= must be"),
])
def test_bad_fault_specs_say_what_was_expected(spec, message):
    with pytest.raises(FaultSpecError, match=message):
        parse_fault(spec)


def test_a_counted_fault_is_consumed_and_wildcards_match_any_node():
    book = FaultBook()
    book.add(parse_fault("node=*,on=registry.get,kind=http500,count=2", frozenset(OPS)))
    assert book.take("CLU1-A", "registry.get") and book.take("CLU9-Z", "REGISTRY.GET")
    assert book.take("CLU1-A", "registry.get") is None


def test_scenarios_extend_each_other():
    assert available_scenarios() == ["healthy", "kb252641-broken", "kb252641-no-witness", "paused-node",
                                     "sql-installed", "two-dtc-roles"]
    assert scenarios.load("kb252641-no-witness")["cluster"]["witness"] is None  # a null overrides, as in YAML
    sql = scenarios.load("sql-installed")
    assert sql["node"]["services"]["MSDTC"]["status"] == "Stopped"  # from kb252641-broken
    assert sql["node"]["services"]["ClusSvc"]["status"] == "Running"  # from healthy
    assert "MSSQLSERVER" in sql["node"]["services"]
    with pytest.raises(ScenarioError, match="unknown scenario"):
        scenarios.load("nope")


def test_paths_and_keys_fold_case_and_spelling():
    assert norm_key("HKEY_LOCAL_MACHINE\\Software\\X\\") == "HKLM\\Software\\X"
    assert norm_key("hklm:/Software/X") == "HKLM\\Software\\X"
    assert norm_path("q:/MSDTCLog/") == "Q:\\MSDTCLog" and norm_path("q:") == "Q:\\"
    fs = FileSystem()
    fs.write("C:\\A\\b.txt", b"x")
    assert fs.get("c:\\a") and fs.get("C:\\A\\B.TXT").data == b"x"
    assert fs.remove("c:\\A") and fs.get("C:\\A\\b.txt") is None


def test_reg_export_import_round_trip():
    reg = Registry()
    reg.set_value("HKLM\\Software\\Microsoft\\MSDTC", "Version", 'quote " and \\ back')
    reg.set_value("HKLM\\Software\\Microsoft\\MSDTC\\Security", "NetworkDtcAccess", 1, "REG_DWORD")
    data = backup_formats.export_reg(reg.subtree("HKLM\\Software\\Microsoft\\MSDTC"))
    assert data.startswith(b"\xff\xfe") and "[HKEY_LOCAL_MACHINE\\Software\\Microsoft\\MSDTC]" in data.decode("utf-16")
    snapshot = reg.snapshot()
    reg.remove("HKLM\\Software\\Microsoft\\MSDTC")
    backup_formats.import_reg(data, reg)
    assert reg.snapshot() == snapshot
    with pytest.raises(ValueError):
        backup_formats.import_reg(b"not a reg file", reg)


def _cluster(nodes: int, witness: dict | None = None):
    scenario = scenarios.load("healthy")
    if witness:
        scenario["cluster"]["witness"] = witness
    return scenarios.build_cluster(scenario, 1, nodes, Clock(0), Journal(), FaultBook())


def _start_all(cluster, letters: str) -> dict[str, str]:
    """Start each node in turn, a node Joining left to wait for the next; what each start came to: ok, or
    refused (event 1561)."""
    outcomes = {}
    for letter in letters:
        try:
            cluster.start_cluster_service(cluster.node(f"CLU1-{letter}"), 60, wait_for_quorum=False)
            outcomes[letter] = "ok"
        except SimError as exc:
            assert exc.kind == "failed", exc.message
            outcomes[letter] = "refused"
    return outcomes


@pytest.mark.parametrize("witness, first_alone", [(None, "Joining"), ({"type": "disk", "state": "Failed"}, "Joining"),
                                                  ({"type": "file_share"}, "Up"), ({"type": "disk"}, "Up")])
def test_a_two_node_cluster_forms_from_one_node_only_with_its_witness(witness, first_alone):
    cluster = _cluster(2, witness)
    if witness is None:
        cluster.witness = None
    a, b = cluster.node("CLU1-A"), cluster.node("CLU1-B")
    cluster.stop_cluster_service(b, 60)
    cluster.stop_cluster_service(a, 60)
    if first_alone == "Joining":
        with pytest.raises(SimError) as waited:
            cluster.start_cluster_service(a, 30)
        assert waited.value.kind == "timeout" and "no quorum (1 of " in waited.value.message
        assert a.state == "Joining" and a.service("ClusSvc").status == "Running"
        with pytest.raises(SimError, match="has not joined a cluster yet"):
            cluster.require_cluster(a)
        assert all(g.state != "Online" for g in cluster.groups.values()), "nothing runs without quorum"
    else:
        cluster.start_cluster_service(a, 30)
        assert a.state == "Up"
    cluster.start_cluster_service(b, 30)
    assert (a.state, b.state) == ("Up", "Up")
    assert all(g.state == "Online" for g in cluster.groups.values())


@pytest.mark.parametrize("witness,stops,starts,expected", [
    # last down, first up: the newest configuration forms the cluster
    ("file_share", "BA", "AB", {"A": "ok", "B": "ok"}),
    ("file_share", "CBA", "ABC", {"A": "ok", "B": "ok", "C": "ok"}),
    ("file_share", "ABC", "CBA", {"C": "ok", "B": "ok", "A": "ok"}),
    # a stale node refuses to start (event 1561); the last one down still forms the cluster after it
    ("file_share", "BA", "BA", {"B": "refused", "A": "ok"}),
    ("file_share", "CBA", "CAB", {"C": "refused", "A": "ok", "B": "ok"}),
    # a disk witness holds the newest copy: any node may form the cluster
    ("disk", "BA", "BA", {"B": "ok", "A": "ok"}),
])
def test_only_the_newest_configuration_forms_the_cluster(witness, stops, starts, expected):
    cluster = _cluster(len(stops), {"type": witness})
    for letter in stops:
        cluster.stop_cluster_service(cluster.node(f"CLU1-{letter}"), 60)
    assert _start_all(cluster, starts) == expected
    refused = {letter for letter, outcome in expected.items() if outcome == "refused"}
    for letter in stops:
        events = [e["id"] for e in cluster.node(f"CLU1-{letter}").events]
        assert (1561 in events) == (letter in refused)
        assert cluster.node(f"CLU1-{letter}").state == ("Down" if letter in refused else "Up")
    assert all(g.state == "Online" for g in cluster.groups.values()), "never on an older configuration"


def test_groups_fail_over_to_a_surviving_node():
    cluster = _cluster(2)
    cluster.stop_cluster_service(cluster.node("CLU1-A"), 60)
    assert {g.owner for g in cluster.groups.values()} == {"CLU1-B"}
    assert all(g.state == "Online" for g in cluster.groups.values())


def test_a_wait_longer_than_its_timeout_times_out():
    cluster = _cluster(2)
    with pytest.raises(SimError) as failure:
        cluster.stop_cluster_service(cluster.node("CLU1-A"), timeout_s=1)  # ClusSvc takes 5 s to stop
    assert failure.value.kind == "timeout"


def test_sql_instances_come_from_the_registry_and_from_sql_services_alike():
    cluster = _cluster(2)
    node = cluster.node("CLU1-A")
    node.registry.set_value("HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL", "MSSQLSERVER",
                            "MSSQL15.MSSQLSERVER")
    node.services["mssql$reports"] = Service("MSSQL$REPORTS", "SQL Server (REPORTS)", status="Running")
    node.services["mssql$microsoft##wid"] = Service("MSSQL$MICROSOFT##WID", "Windows Internal Database",
                                                    status="Running")  # WSUS's database, not SQL Server
    assert OPS["sql.get"](OpContext(cluster, node), {}) == {"installed": True, "instances": [
        {"name": "MSSQLSERVER", "service": "MSSQLSERVER", "status": None},
        {"name": "REPORTS", "service": "MSSQL$REPORTS", "status": "Running"}]}


def test_a_new_dtc_role_is_built_as_the_agent_builds_it_and_comes_online_dependencies_first():
    cluster = _cluster(2)
    ctx = OpContext(cluster, cluster.node("CLU1-A"))
    create = OPS["cluster.group.create_dtc"]
    with pytest.raises(SimError, match="must be an IPv4 address"):
        create(ctx, {"name": "Other", "ip_address": "10.0.0", "disk": "Cluster Disk 3"})
    with pytest.raises(SimError, match="not a Physical Disk in Available Storage"):
        create(ctx, {"name": "Other", "disk": "Cluster Disk 2"})
    with pytest.raises(SimError, match="no client cluster network contains 192.168.1.5"):
        create(ctx, {"name": "Other", "ip_address": "192.168.1.5", "disk": "Cluster Disk 3"})
    data = create(ctx, {"name": "AppDTC", "network_name": "AppDTC", "ip_address": "10.0.0.30",
                        "disk": "Cluster Disk 3"})
    assert [(r["name"], r["type"], r["depends_on"]) for r in data["resources"]] == [
        ("IP Address AppDTC", "IP Address", []), ("AppDTC", "Network Name", ["IP Address AppDTC"]),
        ("Cluster Disk 3", "Physical Disk", []),
        ("MSDTC-AppDTC", "Distributed Transaction Coordinator", ["AppDTC", "Cluster Disk 3"])]
    assert data["state"] == "Offline" and not cluster.group("Available Storage").resources, "the disk moved in"
    grp = cluster.group_online("AppDTC", 10)
    assert grp.state == "Online"
    log = cluster.dtc_log_folder(grp, grp.resource("MSDTC-AppDTC"))
    assert log.startswith("S:\\MSDTC\\") and cluster.disks["S:"].get(log + "\\MSDTC.LOG"), "its log, on its disk"


@pytest.mark.parametrize("change, problem", [
    ({"depends_on": ["ClusterDTC"]}, "no dependency on a Physical Disk"),
    ({"depends_on": ["Cluster Disk 2"]}, "no dependency on a Network Name"),
    ({"possible_owners": ["CLU1-B"]}, "CLU1-A is not a possible owner"),
])
def test_a_dtc_without_what_its_type_requires_or_off_its_possible_owners_fails_and_leaves_the_rest_online(
        change, problem):
    cluster = _cluster(2)
    grp = cluster.group("ClusterDTC")
    dtc = grp.resource("MSDTC-ClusterDTC")
    for key, value in change.items():
        setattr(dtc, key, value)
    cluster.take_offline(grp)
    with pytest.raises(SimError, match=f"MSDTC-ClusterDTC Failed \\(.*{problem}"):
        cluster.group_online("ClusterDTC", 10)
    assert {r.name: r.state for r in grp.resources if r is not dtc} == {
        "IP Address 10.0.0.20": "Online", "ClusterDTC": "Online", "Cluster Disk 2": "Online"}
    assert grp.state == "Failed"


def test_a_resource_never_comes_online_before_what_it_depends_on_and_removal_waits_for_its_dependants():
    cluster = _cluster(2)
    grp = cluster.group("ClusterDTC")
    grp.resource("IP Address 10.0.0.20").params = {"dhcp": True}  # no DHCP server on the client network
    cluster.take_offline(grp)
    with pytest.raises(SimError):
        cluster.group_online("ClusterDTC", 10)
    assert {r.name: r.state for r in grp.resources} == {
        "IP Address 10.0.0.20": "Failed", "ClusterDTC": "Offline", "Cluster Disk 2": "Online",
        "MSDTC-ClusterDTC": "Offline"}
    with pytest.raises(SimError, match="MSDTC-ClusterDTC depend"):
        cluster.remove_resource("Cluster Disk 2")
    with pytest.raises(SimError, match="would form a cycle"):
        cluster.set_dependencies("IP Address 10.0.0.20", ["MSDTC-ClusterDTC"])
    assert cluster.remove_resource("MSDTC-ClusterDTC") and grp.resource("MSDTC-ClusterDTC") is None


def test_simulators_side_by_side_number_their_clusters_apart():
    """`--first-cluster`: two simulator processes serve one fleet (CLU1-2 and CLU3-4) without clashing."""
    from enforcer.simulator import simulate

    with simulate("healthy", clusters=2, first_cluster=3, auth="basic-http") as sim:
        inventory = sim.inventory()["all"]["children"]
        assert list(inventory) == ["clu3", "clu4"]
        assert [e.node for e in sim.endpoints] == ["CLU3-A", "CLU3-B", "CLU4-A", "CLU4-B"]
        assert inventory["clu4"]["hosts"]["CLU4-B"]["ansible_host"] in ("127.1.4.2", "127.0.0.1")


def test_clusters_past_255_get_addresses_of_their_own():
    """CLU255 and CLU256 sit on 127.1.255.x and 127.2.0.x: every node keeps its own address on the WinRM port."""
    from enforcer.simulator import simulate

    with simulate("healthy", clusters=2, first_cluster=255, auth="basic-http") as sim:
        hosts = {e.node: e.host for e in sim.endpoints}
        if set(hosts.values()) == {"127.0.0.1"}:
            pytest.skip("this machine cannot bind 127.x addresses: the simulator fell back to ports on 127.0.0.1")
        assert hosts == {"CLU255-A": "127.1.255.1", "CLU255-B": "127.1.255.2",
                         "CLU256-A": "127.2.0.1", "CLU256-B": "127.2.0.2"}


def test_one_node_of_a_scenario_can_differ_by_its_letter():
    scenario = scenarios.load("paused-node")
    cluster = scenarios.build_cluster(scenario, 1, 2, Clock(0), Journal(), FaultBook())
    assert [n.state for n in cluster.nodes] == ["Up", "Paused"]
    with pytest.raises(ScenarioError, match="C is not a node letter of a 2-node cluster"):
        scenarios.build_cluster({**scenario, "nodes": {"C": {"paused": True}}}, 1, 2, Clock(0), Journal(), FaultBook())


def test_reg_files_keep_every_value_type_and_reg_exe_s_wrapped_lines():
    """What `reg export` writes: hex(N): for the types it cannot quote, lines cut with a backslash before 80."""
    reg = Registry()
    values = {"S": ("REG_SZ", 'a "quoted" \\ path'), "D": ("REG_DWORD", 7), "Q": ("REG_QWORD", 2**40),
              "E": ("REG_EXPAND_SZ", "%SystemRoot%\\System32\\msdtc.exe"), "M": ("REG_MULTI_SZ", ["a", "b"]),
              "M0": ("REG_MULTI_SZ", []), "B": ("REG_BINARY", "00ff" * 40), "N": ("REG_NONE", "")}
    for name, (kind, data) in values.items():
        reg.set_value("HKLM\\Software\\Probe", name, data, kind)
    data = backup_formats.export_reg(reg.subtree("HKLM\\Software\\Probe"))
    lines = data.decode("utf-16").splitlines()
    assert max(len(line) for line in lines) < 80 and any(line.endswith("\\") for line in lines)
    assert '"E"=hex(2):25,00,53,00' in data.decode("utf-16")
    again = Registry()
    backup_formats.import_reg(data, again)
    assert again.snapshot() == reg.snapshot()


def test_a_stale_ws2022_node_reports_the_partition_in_time_as_event_5398():
    scenario = scenarios.load("healthy")
    scenario["cluster"]["witness"] = {"type": "file_share"}
    scenario["node"]["os"] = "ws2022"
    cluster = scenarios.build_cluster(scenario, 1, 2, Clock(0), Journal(), FaultBook())
    a, b = cluster.node("CLU1-A"), cluster.node("CLU1-B")
    cluster.stop_cluster_service(b, 60)
    cluster.stop_cluster_service(a, 60)
    with pytest.raises(SimError, match="System event 5398: Cluster failed to start. The latest copy"):
        cluster.start_cluster_service(b, 60)
    assert [e["id"] for e in b.events] == [5398] and b.state == "Down"
    cluster.start_cluster_service(a, 60)
    cluster.start_cluster_service(b, 60)
    assert (a.state, b.state) == ("Up", "Up")


def test_a_group_past_its_failover_threshold_is_left_failed_and_an_operators_offline_group_stays_offline():
    cluster = _cluster(3, {"type": "disk"})
    grp = cluster.group("ClusterDTC")
    grp.failover_threshold = 1  # one failover within the period, then Windows stops trying
    cluster.stop_cluster_service(cluster.node("CLU1-A"), 60)
    assert (grp.owner, grp.state) == ("CLU1-B", "Online")
    cluster.stop_cluster_service(cluster.node("CLU1-B"), 60)
    assert (grp.owner, grp.state) == ("CLU1-C", "Failed"), "the second failover in the period is not tried"
    storage = cluster.group("Available Storage")
    cluster.take_offline(storage)
    storage.persistent_online = False  # as cluster.group.offline leaves it
    cluster.stop_cluster_service(cluster.node("CLU1-C"), 60)
    for letter in "CBA":
        cluster.start_cluster_service(cluster.node(f"CLU1-{letter}"), 60, wait_for_quorum=False)
    assert storage.state == "Offline" and cluster.group("Cluster Group").state == "Online", \
        "a formation brings back what was online, not what an operator took offline"
