"""A run's records: STATE_DIR/runs/RUN_ID/{plan,run}.{json,md}.

Reports are written through the console's redactor, like everything shown:
a saved report is as free of secrets as the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InputError
from .model import Plan, RunResult
from .report import plan_json, plan_markdown, run_json, run_markdown
from .statedir import StateDir


def _write(path: Path, text: str, redact: Callable[[str], str]) -> Path:
    path.write_text(redact(text), encoding="utf-8")
    return path


def save_plan(state: StateDir, run_id: str, plan: Plan, redact: Callable[[str], str]) -> list[Path]:
    folder = state.new_run(run_id)
    return [_write(folder / "plan.json", json.dumps(plan_json(plan), indent=2, default=str), redact),
            _write(folder / "plan.md", plan_markdown(plan), redact)]


def save_run(state: StateDir, run: RunResult, redact: Callable[[str], str]) -> list[Path]:
    folder = state.new_run(run.run_id)
    return [_write(folder / "run.json", json.dumps(run_json(run), indent=2, default=str), redact),
            _write(folder / "run.md", run_markdown(run), redact)]


def record_kind(state: StateDir, run_id: str) -> str:
    """'run' when the run applied something, 'plan' when it only planned; InputError when there is no such run."""
    folder = state.run(run_id)
    if not (folder / "plan.json").is_file():
        raise InputError(f"no run {run_id!r} in {state.runs}")
    return "run" if (folder / "run.json").is_file() else "plan"


def load_record(state: StateDir, run_id: str, kind: str) -> dict[str, Any]:
    path = state.run(run_id) / f"{kind}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no {kind} record for run {run_id!r} (expected {path})") from None
    except ValueError as exc:
        raise InputError(f"the {kind} record of run {run_id} is not valid JSON: {exc}", str(path)) from None
