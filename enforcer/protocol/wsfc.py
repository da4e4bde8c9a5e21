"""Failover-cluster rules that both sides of the op contract hold to: the engine checks them before it plans a
change (a role built against them would never come online), and the simulator enforces them as Windows does.

Sources: windows-facts §2.1 ([MS: Resource Dependencies (aa372236)], [MS: Requirements for Creating an MS DTC
Resource in a Failover Cluster (cc770748)]) and §2.3 ([KB 909264]).
"""

from __future__ import annotations

DTC_TYPE = "Distributed Transaction Coordinator"
NETBIOS_NAME_MAX = 15  # a Network Name publishes a NetBIOS computer name
AVAILABLE_STORAGE = "Available Storage"  # the group that holds clustered disks no role uses yet

# A resource of the key's type comes online only with a dependency on a resource of each listed type.
REQUIRED_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    DTC_TYPE: ("Network Name", "Physical Disk"),
    "Network Name": ("IP Address",),
}


def missing_dependencies(resource_type: str, dependency_types: list[str]) -> list[str]:
    """The types `resource_type` must depend on and does not, given the types of what it depends on."""
    return [t for t in REQUIRED_DEPENDENCIES.get(resource_type, ()) if t not in dependency_types]


def group_state(resource_states: list[str]) -> str:
    """A group's state from its resources' (CLUSTER_GROUP_STATE, windows-facts §3.5): Failed if any failed,
    Online if all are, Offline if none is, else PartialOnline (never Online)."""
    states = set(resource_states)
    if "Failed" in states:
        return "Failed"
    if not states or states == {"Offline"}:
        return "Offline"
    return "Online" if states == {"Online"} else "PartialOnline"
