"""Faults on demand: `node=NODE,on=TARGET,kind=KIND[,count=N][,ms=M]`.

A fault is consumed each time it fires, so `count=1` models a transient
glitch and no count models an outage that lasts until it is cleared.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass

KINDS = ("refuse", "http500", "wsman", "hang", "fail", "slow", "close")
REQUEST_KINDS = tuple(k for k in KINDS if k != "close")  # what a request meets as it arrives
_TARGET = re.compile(r"^(any|service:[^:]+:(start|stop)|group:[^:]+:online)$", re.I)


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood; the message says what was expected."""


@dataclass
class Fault:
    node: str
    on: str
    kind: str
    count: int | None = None
    ms: int = 0

    def matches(self, node: str, target: str) -> bool:
        return (self.node == "*" or self.node.lower() == node.lower()) and self.on.lower() == target.lower()


def parse_fault(spec: str, ops: frozenset[str] = frozenset()) -> Fault:
    """Parse one spec; `ops` are the op names a fault may target. Raise FaultSpecError naming the offending part."""
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise FaultSpecError(f"fault {spec!r}: expected key=value, got {part!r}")
        fields[key.strip().lower()] = value.strip()
    unknown = set(fields) - {"node", "on", "kind", "count", "ms"}
    if unknown:
        raise FaultSpecError(f"fault {spec!r}: unknown field(s) {', '.join(sorted(unknown))}")
    for required in ("node", "on", "kind"):
        if required not in fields:
            raise FaultSpecError(f"fault {spec!r}: missing {required}=")
    kind = fields["kind"].lower()
    if kind not in KINDS:
        raise FaultSpecError(f"fault {spec!r}: kind must be one of {', '.join(KINDS)}")
    if not (_TARGET.match(fields["on"]) or fields["on"].lower() in ops):
        raise FaultSpecError(
            f"fault {spec!r}: on= must be any, an op name, service:NAME:start|stop or group:NAME:online")
    try:
        count = int(fields["count"]) if "count" in fields else None
        ms = int(fields.get("ms", "0"))
    except ValueError as exc:
        raise FaultSpecError(f"fault {spec!r}: count and ms must be whole numbers") from exc
    if (count is not None and count < 1) or ms < 0:
        raise FaultSpecError(f"fault {spec!r}: count must be >= 1 and ms >= 0")
    if kind == "close" and fields["on"].lower() != "any":
        raise FaultSpecError(f"fault {spec!r}: kind=close ends an HTTP connection, so it needs on=any")
    if kind == "slow" and not ms:
        raise FaultSpecError(f"fault {spec!r}: kind=slow needs ms=")
    return Fault(node=fields["node"], on=fields["on"], kind=kind, count=count, ms=ms)


class FaultBook:
    """The active faults; `take` finds and consumes the first match atomically."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, node: str, target: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(node, target):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._faults]
