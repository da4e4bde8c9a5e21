"""Task types: each one a small module with a pure plan() and a verifying apply().

Every module of this package that defines a Resource subclass adds a task
type: `RESOURCES` finds them, so a new type is one new module here (plus
its ops, if it needs new ones). The kinds of fact the `facts` call reads
are learnt from them too.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Arg, FactKind, PlanContext, PlanError, Resource, Session, State, StepError


def _discover() -> dict[str, Resource]:
    found: dict[str, Resource] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"):
        for value in vars(importlib.import_module(f"{__name__}.{module}")).values():
            if isinstance(value, type) and issubclass(value, Resource) and value.__module__.endswith(f".{module}"):
                found[value.type] = value()
    return found


RESOURCES: dict[str, Resource] = _discover()
FACT_KINDS: dict[str, FactKind] = {kind.name: kind for r in RESOURCES.values() for kind in r.reads}

__all__ = ["FACT_KINDS", "RESOURCES", "Arg", "FactKind", "PlanContext", "PlanError", "Resource", "Session", "State",
           "StepError"]
