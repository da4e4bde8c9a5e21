"""plan and apply: the dry run, and the run that carries it out."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from .. import api, savedplan
from ..console import Console
from ..errors import EnforcerError, InputError
from ..lease import describe
from ..lifecycle import Recorder, Run
from ..model import Plan, RunResult
from ..planner import selected, tag_selected
from ..report import plan_json, plan_junit, plan_markdown, plan_text, recap_text, run_json, run_junit
from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    ask,
    emit,
    interrupts,
    load,
    names,
    options,
    plan_code,
    writable,
)
from .progress import LiveProgress


def _plan(run: Run, console: Console, release: bool = False) -> Plan:
    console.info(f"gathering facts from {sum(len(c.nodes) for c in run.loaded.clusters)} node(s), run {run.run_id}")
    return run.plan(release)


def _recorder(args: argparse.Namespace, console: Console) -> Recorder:
    return Recorder.open(console.redact, history=not args.no_history)


class StalePlan(EnforcerError):
    """A saved plan whose playbook or inventory changed since it was saved: exit 1, nothing contacted."""


def list_hosts(loaded: api.Loaded, console: Console) -> int:
    """--list-hosts: what each play selects, as ansible-playbook --list-hosts shows it; nothing is contacted."""
    for play in loaded.playbook.plays:
        clusters = [c for c in loaded.clusters if selected(play, c, loaded.inventory, loaded.selection)]
        nodes = [n for c in clusters for n in c.node_names]
        console.out(f"play {play.name!r} (hosts: {play.hosts}): {len(nodes)} node(s) in {len(clusters)} cluster(s)")
        console.out("\n".join(f"    {c.name}: {', '.join(c.node_names)}" for c in clusters))
    return EXIT_OK


def list_tasks(loaded: api.Loaded, console: Console) -> int:
    """--list-tasks: each play's tasks as the tags select them, as ansible-playbook --list-tasks; no connection."""
    for play in loaded.playbook.plays:
        console.out(f"play {play.name!r} (hosts: {play.hosts})")
        for task in play.tasks + play.handlers:
            if tag_selected(task.tags, loaded.selection):
                extra = ([f"TAGS: [{', '.join(task.tags)}]"] if task.tags else []) + (
                    [f"when: {task.when}"] if task.when is not None else []) + (
                    ["handler"] if task in play.handlers else [])
                console.out(f"    {task.name} ({task.type})" + (f"  {'; '.join(extra)}" if extra else "")
                            + f"  {task.location}")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    if args.list_hosts:
        return list_hosts(api.load(options(args)), console)
    if args.list_tasks:
        return list_tasks(api.load(options(args)), console)
    for path in (args.save_plan, args.out):
        if path:
            writable(path)
    loaded = load(args, console)
    with Run(loaded, "plan", _recorder(args, console), lock=False) as run:
        plan = _plan(run, console, release=True)
        run.record_plan()
    if args.save_plan:
        saved = savedplan.save(args.save_plan, plan, run.run_id, args.extra_vars, args.limit, sorted(names(args.tags)),
                               sorted(names(args.skip_tags)))
        console.err(f"plan {saved.id} ({saved.created}) saved to {args.save_plan}: apply exactly it with "
                    f"`enforcer apply --plan {args.save_plan}`")
    rendered = {"text": lambda: plan_text(plan, console.verbosity),
                "json": lambda: json.dumps(plan_json(plan), indent=2, default=str),
                "markdown": lambda: plan_markdown(plan), "junit": lambda: plan_junit(plan)}[args.format]()
    emit(rendered, args.out, console, "plan")
    return plan_code(plan, args.detailed_exitcode)


def cmd_apply(args: argparse.Namespace, console: Console) -> int:
    saved = _saved_plan(args) if args.plan else None
    if not args.playbook or not args.inventory:
        raise InputError("apply needs a playbook and -i INVENTORY, or --plan FILE (a saved plan names both)")
    if args.check or args.list_hosts or args.list_tasks:
        args.format, args.out, args.detailed_exitcode, args.save_plan = "text", None, False, None
        return cmd_plan(args, console)
    loaded = load(args, console)
    with Run(loaded, "apply", _recorder(args, console)) as run:
        for cluster, previous in run.interrupted_runs():
            console.err(f"WARNING: the last run on {cluster} ({previous.get('run_id')}, pid {previous.get('pid')} on "
                        f"{previous.get('host')}) ended during {previous['step']}; re-reading the cluster's state "
                        f"before going on")
        plan = _plan(run, console)
        for cluster, dead in (run.leases.taken_over.items() if run.leases else ()):
            console.err(f"WARNING: {cluster}: the lease of {describe(dead)} expired (that run stopped renewing "
                        f"it: it died or lost the nodes); taken over")
        if saved is not None:
            stale = savedplan.differences(saved, plan)
            if stale:
                run.record_plan()
                console.err(f"the saved plan is stale: {args.plan} ({saved.id}, {saved.created}) is not what the "
                            f"nodes need now; nothing was changed. Differences:\n"
                            + "\n".join(f"  - {reason}" for reason in stale) + "\nPlan again, and review the new plan.")
                return EXIT_FAILED
            console.err(f"the saved plan {saved.id} ({saved.created}) still holds: applying exactly its "
                        f"{len(plan.changes)} change(s)")
        (console.out if args.format == "text" else console.err)(plan_text(plan, console.verbosity))
        refusal = _confirm(args, plan, console) if plan.changes else plan_code(plan, False)
        if refusal is None and not args.yes and sys.stdin.isatty():
            plan, refusal = _confirm_again_if_changed(args, run, plan, console)
        if refusal is not None:
            run.record_plan()
            return refusal
        stop = threading.Event()
        with interrupts(stop) as signals, LiveProgress(console, interrupted=lambda: signals.count) as progress:
            result = run.apply(progress, stop)
    if args.format == "json":
        console.out(json.dumps(run_json(result), indent=2, default=str))
    elif args.format == "junit":
        console.out(run_junit(result))
    else:
        console.out(recap_text(result))
        console.out(f"report: {run.paths[1]}")
    return _run_code(result)


def _saved_plan(args: argparse.Namespace) -> savedplan.SavedPlan:
    """The saved plan, its options in `args` (given ones must agree); InputError, or stale files, before any
    connection."""
    saved = savedplan.load(args.plan)
    recorded = {"playbook": saved.playbook, "inventory": saved.inventory, "extra_vars": saved.extra_vars,
                "limit": saved.limit, "tags": saved.tags, "skip_tags": saved.skip_tags}
    for name, value in recorded.items():
        given = getattr(args, name)
        if name in ("tags", "skip_tags"):
            given = sorted(names(given)) if given else None
        if name in ("playbook", "inventory") and given:
            given = str(Path(given).resolve())
        if given not in (None, []) and given != value:
            raise InputError(f"--plan {args.plan} was made with {name} {value!r}, not {given!r}: apply it as saved, "
                             f"or plan again")
        setattr(args, name, value)
    stale = savedplan.stale_sources(saved)
    if stale:
        raise StalePlan(f"the saved plan is stale: {'; '.join(stale)}; nothing was changed: plan again")
    return saved


def _confirm(args: argparse.Namespace, plan: Plan, console: Console) -> int | None:
    """None to go ahead; an exit code when the operator (or the lack of one) says no."""
    if args.yes:
        return None
    destructive = sum(1 for c in plan.changes if c.destructive)
    disruptive = sum(1 for c in plan.changes if c.disruptive)
    if not sys.stdin.isatty() and not destructive and not disruptive:
        return None
    if not sys.stdin.isatty():
        console.err(f"refusing to apply {destructive} destructive and {disruptive} disruptive change(s) without a "
                    f"terminal to confirm on: rerun with --yes")
        return EXIT_FAILED
    if ask(f"Apply {len(plan.changes)} change(s), {destructive} destructive, {disruptive} disruptive?", console):
        return None
    console.err("not applied")
    return EXIT_FAILED


def _confirm_again_if_changed(args: argparse.Namespace, run: Run, plan: Plan, console: Console
                              ) -> tuple[Plan, int | None]:
    """The nodes are read again after an operator's yes: what they approved must still be what runs. A plan that
    changed meanwhile (someone paused a node while the prompt waited) is shown and asked about again."""
    while True:
        again = _plan(run, console)
        if [savedplan.change_identity(c) for c in again.changes] == [savedplan.change_identity(c) for c in
                                                                      plan.changes]:
            return again, None
        console.out("The nodes changed while the question waited; the plan is now:")
        console.out(plan_text(again, console.verbosity))
        plan = again
        refusal = _confirm(args, plan, console) if plan.changes else plan_code(plan, False)
        if refusal is not None:
            return plan, refusal


def _run_code(run: RunResult) -> int:
    if run.interrupted:
        return EXIT_INTERRUPTED
    if run.failed:
        return EXIT_FAILED
    if run.plan.locked:
        return EXIT_LOCKED
    return EXIT_UNREACHABLE if run.plan.unreachable else EXIT_OK
