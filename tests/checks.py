"""Small helpers the tests of both tiers share: a one-task playbook, and what the simulator's state must show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def one_task_playbook(folder: Path, title: str, task_type: str, **args: Any) -> str:
    """A playbook of one play with one task, `task_type: args`, written to `folder/title.yml`."""
    path = folder / f"{title}.yml"
    path.write_text(yaml.safe_dump([{"name": title, "hosts": "all", "tasks": [{"name": title, task_type: args}]}]))
    return str(path)


def started_out_of_turn(cluster_state: dict[str, Any]) -> list[str]:
    """The nodes that logged event 1561: they were started while holding an older configuration."""
    return [n["name"] for n in cluster_state["nodes"] if any(e["id"] == 1561 for e in n["events"])]
