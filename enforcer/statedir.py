"""The state directory's layout: the one place that knows where enforcer keeps what.

    STATE_DIR/                 ENFORCER_STATE_DIR, else ~/.local/state/enforcer (mode 0700)
      runs/RUN_ID/             plan.{json,md}, run.{json,md}: each run's records and reports
      locks/CLUSTER.lock       one run per cluster on this control host
      history.db               the run history (SQLite)
      demo/                    `enforcer demo`'s inventory, journal and HTML report

The simulator writes its inventory to STATE_DIR/sim/ by the same rule; it
reads the variable itself because it imports nothing of the engine.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ENV = "ENFORCER_STATE_DIR"


class StateDir:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root or os.environ.get(ENV) or Path.home() / ".local" / "state" / "enforcer")

    def _folder(self, *parts: str) -> Path:
        """The folder, made on first use; the state directory itself readable by its owner alone."""
        if not self.root.is_dir():
            self.root.mkdir(parents=True, mode=0o700, exist_ok=True)
        elif self.root.stat().st_mode & 0o077:
            with contextlib.suppress(OSError):  # one made before enforcer kept it private; not ours: left as is
                self.root.chmod(0o700)
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        return path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run(self, run_id: str) -> Path:
        """A run's folder, which need not exist: reading a record must not create one."""
        return self.runs / run_id

    def new_run(self, run_id: str) -> Path:
        return self._folder("runs", run_id)

    @property
    def locks(self) -> Path:
        return self._folder("locks")

    @property
    def history_db(self) -> Path:
        self._folder()
        return self.root / "history.db"

    @property
    def demo(self) -> Path:
        return self._folder("demo")
