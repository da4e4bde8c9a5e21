"""Faults on demand: `node=NODE,on=TARGET,kind=KIND[,count=N][,ms=M]`.

A fault is consumed each time it fires, so `count=1` models a transient
glitch and no count models an outage that lasts until it is cleared.

`kind=optimeout` answers a WinRS exchange with the OperationTimeout fault (2150858793), as a loaded Windows
node does: `on=wsman:command` (the command started, its id never reached the client), `on=wsman:send` (the
request was delivered and runs; its acknowledgement is lost) or `on=wsman:receive`; `wsman:send:OP` and
`wsman:receive:OP` fire only on the exchange of an agent call that carries op OP.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass

KINDS = ("refuse", "http500", "wsman", "hang", "fail", "slow", "close", "optimeout", "clear", "kill")
# What a request meets as it arrives; the others act on an answer (close, clear) or on a WinRS exchange (optimeout).
REQUEST_KINDS = tuple(k for k in KINDS if k not in ("close", "optimeout", "clear", "kill"))
_TARGET = re.compile(r"^(any|service:[^:]+:(start|stop)|group:[^:]+:online)$", re.I)
_WINRS_TARGET = re.compile(r"^wsman:(command|(send|receive)(:[a-z0-9_.]+)?)$", re.I)


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
    winrs = bool(_WINRS_TARGET.match(fields["on"]))
    if not (_TARGET.match(fields["on"]) or fields["on"].lower() in ops or winrs):
        raise FaultSpecError(f"fault {spec!r}: on= must be any, an op name, service:NAME:start|stop, "
                             f"group:NAME:online or wsman:command|send|receive")
    if winrs != (kind == "optimeout"):
        raise FaultSpecError(f"fault {spec!r}: kind=optimeout goes with on=wsman:command, wsman:send[:OP] or "
                             f"wsman:receive[:OP], and those with it alone")
    try:
        count = int(fields["count"]) if "count" in fields else None
        ms = int(fields.get("ms", "0"))
    except ValueError as exc:
        raise FaultSpecError(f"fault {spec!r}: count and ms must be whole numbers") from exc
    if (count is not None and count < 1) or ms < 0:
        raise FaultSpecError(f"fault {spec!r}: count must be >= 1 and ms >= 0")
    if kind in ("close", "clear") and fields["on"].lower() != "any":
        raise FaultSpecError(f"fault {spec!r}: kind={kind} acts on an HTTP answer, so it needs on=any")
    if kind == "kill" and fields["on"].lower() not in ops:
        raise FaultSpecError(f"fault {spec!r}: kind=kill kills the agent during an op, so on= names an op")
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

    def holds(self, kind: str) -> bool:
        """Whether any fault of `kind` is active: lets a hot path skip preparing its targets."""
        with self._lock:
            return any(f.kind == kind for f in self._faults)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._faults]
