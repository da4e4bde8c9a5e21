"""Task types: each one a small module with a pure plan() and a verifying apply()."""

from __future__ import annotations

from .assertion import Assert
from .base import Arg, FactNeeds, PlanContext, PlanError, Resource, Session, State, StepError
from .cluster_group import ClusterGroup
from .cluster_restart import ClusterRestart
from .dtc import Dtc
from .failover_test import FailoverTest
from .path import Path
from .registry_key import RegistryKey
from .service import Service

RESOURCES: dict[str, Resource] = {r.type: r for r in (
    RegistryKey(), Path(), Service(), Dtc(), ClusterGroup(), ClusterRestart(), FailoverTest(), Assert())}

__all__ = ["RESOURCES", "Arg", "FactNeeds", "PlanContext", "PlanError", "Resource", "Session", "State",
           "StepError"]
