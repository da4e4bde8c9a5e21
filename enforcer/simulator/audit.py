"""The contract audit: each request the simulator runs and each answer it gives, checked against the catalogue.

The test suite turns it on (ENFORCER_CONTRACT_AUDIT=1), so the engine's
requests and the simulator's answers are held to the catalogue's schemas by
every test that talks to a simulator, whether it runs in the test's process
or as a subprocess (which inherits the variable). The variable is read once,
here; with the audit off the agent host pays one attribute read per op (the
simulator's overhead is benchmarked).

A violation is recorded in `violations` (a test fixture reads it from an
in-process simulator) and the op answers kind 'failed', "contract violation:
...", so that a subprocess simulator's violation fails its test too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..protocol import contract

ENV = "ENFORCER_CONTRACT_AUDIT"


@dataclass
class ContractAudit:
    enabled: bool
    violations: list[str] = field(default_factory=list)

    def request_violation(self, op: str, args: Any) -> str | None:
        """Why the request for `op` breaks the contract, recorded; None when it keeps it."""
        return self._record(op, "request", contract.request_problems(op, args))

    def answer_violation(self, op: str, result: dict[str, Any]) -> str | None:
        """Why `result` (ok with its data, or an error) breaks `op`'s contract, recorded; None when it keeps it."""
        if result["ok"]:
            return self._record(op, "answer", contract.answer_problems(op, result["data"]))
        return self._record(op, "error", contract.error_problems(result["error"]))

    def _record(self, op: str, what: str, problems: list[str]) -> str | None:
        if not problems:
            return None
        violation = f"contract violation: {op} {what}: {'; '.join(problems)}"
        self.violations.append(violation)
        return violation


AUDIT = ContractAudit(enabled=os.environ.get(ENV) == "1")
