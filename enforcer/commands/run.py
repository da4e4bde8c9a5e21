"""plan and apply: the dry run, and the run that carries it out."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from .. import api
from ..console import Console
from ..history import History, now
from ..locks import ClusterLocks
from ..model import Plan, RunResult, StepResult
from ..report import plan_json, plan_markdown, plan_text, recap_text, run_json, step_line
from ..runs import save_plan, save_run, state_dir
from ..transport.pool import Connections
from .common import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, ask, emit, interrupts, load, plan_code)


def _plan(loaded: api.Loaded, console: Console, connections: Connections, run_id: str,
          release: bool = False) -> Plan:
    console.info(f"gathering facts from {sum(len(c.nodes) for c in loaded.clusters)} node(s), run {run_id}")
    return api.plan(loaded, connections, run_id, release)


def _history(args: argparse.Namespace, console: Console) -> History | None:
    return None if args.no_history else History(state_dir() / "history.db", console.redact)


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    loaded = load(args, console)
    run_id, started = api.new_run_id(), now()
    with Connections(loaded.inventory, loaded.forks) as connections:
        plan = _plan(loaded, console, connections, run_id, release=True)
    save_plan(run_id, plan, console.redact)
    history = _history(args, console)
    if history:
        history.record_plan(run_id, plan, "plan", started)
    rendered = {"text": lambda: plan_text(plan, console.verbosity),
                "json": lambda: json.dumps(plan_json(plan), indent=2, default=str),
                "markdown": lambda: plan_markdown(plan)}[args.format]()
    emit(rendered, args.out, console, "plan")
    return plan_code(plan, args.detailed_exitcode)


class _LiveProgress:
    """Prints each finished step as it finishes; records the step in flight in the cluster's lock."""

    def __init__(self, console: Console, locks: ClusterLocks) -> None:
        self.console = console
        self.locks = locks

    def step_started(self, change: Any) -> None:
        self.locks.locks[change.cluster].note_step(f"'{change.task}' ({change.type}) on {change.node or change.via}")
        self.console.info(f"  ... [{change.node or change.via}] {change.task}")

    def step_finished(self, result: StepResult) -> None:
        self.console.err(step_line(result))

    def progress(self, cluster: str, message: str) -> None:
        self.console.err(f"  [{cluster}] {message}")


def cmd_apply(args: argparse.Namespace, console: Console) -> int:
    if args.check:
        args.format, args.out, args.detailed_exitcode = "text", None, False
        return cmd_plan(args, console)
    loaded = load(args, console)
    run_id, started = api.new_run_id(), now()
    history = _history(args, console)
    with ClusterLocks(state_dir() / "locks", [c.name for c in loaded.clusters], run_id) as locks, \
            Connections(loaded.inventory, loaded.forks) as connections:
        for cluster, previous in locks.interrupted_runs():
            console.err(f"WARNING: the last run on {cluster} ({previous.get('run_id')}, pid {previous.get('pid')} on "
                        f"{previous.get('host')}) ended during {previous['step']}; re-reading the cluster's state "
                        f"before going on")
        plan = _plan(loaded, console, connections, run_id)
        save_plan(run_id, plan, console.redact)
        (console.err if args.format == "json" else console.out)(plan_text(plan, console.verbosity))
        refusal = _confirm(args, plan, console) if plan.changes else plan_code(plan, False)
        if refusal is not None:
            if history:
                history.record_plan(run_id, plan, "apply", started)
            return refusal
        stop = threading.Event()
        with interrupts(stop):
            run = api.apply(plan, connections, run_id, loaded.forks, _LiveProgress(console, locks), stop)
    paths = save_run(run, console.redact)
    if history:
        history.record_run(run, "apply", started)
    if args.format == "json":
        console.out(json.dumps(run_json(run), indent=2, default=str))
    else:
        console.out(recap_text(run))
        console.out(f"report: {paths[1]}")
    return _run_code(run)


def _confirm(args: argparse.Namespace, plan: Plan, console: Console) -> int | None:
    """None to go ahead; an exit code when the operator (or the lack of one) says no."""
    if args.yes:
        return None
    destructive = sum(1 for c in plan.changes if c.destructive)
    if not sys.stdin.isatty() and not destructive:
        return None
    if not sys.stdin.isatty():
        console.err(f"refusing to apply {destructive} destructive change(s) without a terminal to confirm "
                    f"on: rerun with --yes")
        return EXIT_FAILED
    if ask(f"Apply {len(plan.changes)} change(s), {destructive} destructive?", console):
        return None
    console.err("not applied")
    return EXIT_FAILED


def _run_code(run: RunResult) -> int:
    if run.interrupted:
        return EXIT_INTERRUPTED
    if run.failed:
        return EXIT_FAILED
    return EXIT_UNREACHABLE if run.plan.unreachable else EXIT_OK
