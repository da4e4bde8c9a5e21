"""Where a run's records go: STATE_DIR/runs/RUN_ID/{plan,run}.{json,md}.

Reports are written through the console's redactor, like everything shown:
a saved report is as free of secrets as the terminal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from .model import Plan, RunResult
from .report import plan_json, plan_markdown, run_json, run_markdown


def state_dir() -> Path:
    return Path(os.environ.get("ENFORCER_STATE_DIR") or Path.home() / ".local" / "state" / "enforcer")


def run_dir(run_id: str) -> Path:
    path = state_dir() / "runs" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, text: str, redact: Callable[[str], str]) -> Path:
    path.write_text(redact(text), encoding="utf-8")
    return path


def save_plan(run_id: str, plan: Plan, redact: Callable[[str], str]) -> list[Path]:
    folder = run_dir(run_id)
    return [_write(folder / "plan.json", json.dumps(plan_json(plan), indent=2, default=str), redact),
            _write(folder / "plan.md", plan_markdown(plan), redact)]


def save_run(run: RunResult, redact: Callable[[str], str]) -> list[Path]:
    folder = run_dir(run.run_id)
    return [_write(folder / "run.json", json.dumps(run_json(run), indent=2, default=str), redact),
            _write(folder / "run.md", run_markdown(run), redact)]
