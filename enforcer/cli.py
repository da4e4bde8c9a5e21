"""enforcer's command line: parse arguments, call the API, map outcomes to exit codes.

Exit codes (Terraform's and Ansible's habits):
  0    ok, nothing (left) to change
  1    a step failed, or planning stopped (e.g. an assert)
  2    changes pending (plan --detailed-exitcode)
  3    a node was unreachable
  4    invalid input (playbook, inventory, vars, flags); no node was contacted
  5    the cluster is locked by another run
  130  interrupted
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import signal
import sys
import threading
from typing import Any, Callable, NoReturn, Sequence

from . import api
from .console import Console
from .errors import EnforcerError, InputError
from .inventory import missing_passwords
from .model import Inventory, Plan, RunResult, StepResult
from .report import plan_json, plan_markdown, plan_text, recap_text, run_json, step_line
from .locks import ClusterLocked, ClusterLocks
from .runs import save_plan, save_run, state_dir
from .transport.pool import Connections

EXIT_OK, EXIT_FAILED, EXIT_CHANGES, EXIT_UNREACHABLE, EXIT_INVALID, EXIT_LOCKED = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags, which would read as 'changes pending': use 4."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("playbook")
    parser.add_argument("-i", "--inventory", required=True)
    parser.add_argument("-l", "--limit", metavar="PATTERN", help="only clusters (or groups) matching PATTERN")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                        help="k=v, a YAML/JSON mapping, or @file; highest precedence")
    parser.add_argument("-t", "--tags", action="append", default=[], help="only tasks with these tags")
    parser.add_argument("--skip-tags", action="append", default=[], help="skip tasks with these tags")
    parser.add_argument("-f", "--forks", type=int, default=10, help="nodes worked on at once (default 10)")


def _verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v tasks, -vv each agent op, -vvv each WinRM request")


def build_parser() -> argparse.ArgumentParser:
    from .simulator.cli import add_sim_command

    parser = _Parser(prog="enforcer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = commands.add_parser("plan", help="dry run: read every node, show what apply would change")
    _run_options(plan)
    plan.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    plan.add_argument("--out", metavar="FILE", help="write the plan there instead of stdout")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when changes are pending")
    _verbosity(plan)
    plan.set_defaults(run=cmd_plan)

    apply = commands.add_parser("apply", help="plan, confirm, apply, recap")
    _run_options(apply)
    apply.add_argument("--yes", action="store_true", help="apply without asking (needed for destructive "
                                                          "changes when not on a terminal)")
    apply.add_argument("--check", action="store_true", help="only plan (same as `enforcer plan`)")
    apply.add_argument("--format", choices=("text", "json"), default="text", help="json: the run as JSON")
    _verbosity(apply)
    apply.set_defaults(run=cmd_apply)

    facts = commands.add_parser("facts", help="the gathered facts of every node, as JSON")
    facts.add_argument("-i", "--inventory", required=True)
    facts.add_argument("-l", "--limit", metavar="PATTERN")
    _verbosity(facts)
    facts.set_defaults(run=cmd_facts)

    validate = commands.add_parser("validate", help="check a playbook (and inventory) without connecting")
    validate.add_argument("playbook")
    validate.add_argument("-i", "--inventory")
    validate.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS")
    _verbosity(validate)
    validate.set_defaults(run=cmd_validate)

    inventory = commands.add_parser("inventory", help="show clusters, their ordered nodes and how each is reached")
    inventory.add_argument("-i", "--inventory", required=True)
    inventory.add_argument("--format", choices=("text", "json"), default="text")
    _verbosity(inventory)
    inventory.set_defaults(run=cmd_inventory)

    restore = commands.add_parser("restore", help="put back what a run deleted, from the backups it took")
    restore.add_argument("run_id", metavar="RUN_ID")
    restore.add_argument("--only", metavar="PATH", help="only the backup of this registry key or path")
    restore.add_argument("-i", "--inventory", help="default: the inventory the run used")
    restore.add_argument("--yes", action="store_true", help="restore without asking")
    _verbosity(restore)
    restore.set_defaults(run=cmd_restore)

    demo = commands.add_parser("demo", help="the whole story against a broken simulated cluster, in-process")
    _verbosity(demo)
    demo.set_defaults(run=cmd_demo)

    add_sim_command(commands)
    return parser


# -- commands ---------------------------------------------------------------------------
def _options(args: argparse.Namespace) -> api.Options:
    return api.Options(args.playbook, args.inventory, args.extra_vars, args.limit, _names(args.tags),
                       _names(args.skip_tags), args.forks)


def _names(values: list[str]) -> set[str]:
    """`-t a,b -t c` is three tags, as in Ansible."""
    return {name.strip() for value in values for name in value.split(",") if name.strip()}


def _load(args: argparse.Namespace, console: Console) -> api.Loaded:
    loaded = api.load(_options(args))
    _credentials(loaded.inventory, console)
    return loaded


def _credentials(inventory: Inventory, console: Console) -> None:
    """Passwords come from the environment or, on a terminal, a prompt; all are masked in output."""
    missing = missing_passwords(inventory)
    if missing and not sys.stdin.isatty():
        names = ", ".join(n.name for n in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise InputError(f"no password for {names}: ansible_password is empty; set the environment variable "
                         f"it reads (e.g. ENFORCER_PASSWORD) or run on a terminal to be asked", inventory.source)
    asked: dict[str, str] = {}
    for node in missing:
        user = node.connection.user
        if user not in asked:
            asked[user] = getpass.getpass(f"Password for {user}: ")
        node.connection = dataclasses.replace(node.connection, password=asked[user])
    for cluster in inventory.clusters:
        for node in cluster.nodes:
            console.redact.add(node.connection.password)
    for warning in inventory.warnings:
        console.err(f"WARNING: {warning}")


def _plan(loaded: api.Loaded, console: Console, connections: Connections, run_id: str) -> Plan:
    console.info(f"gathering facts from {sum(len(c.nodes) for c in loaded.clusters)} node(s), run {run_id}")
    return api.plan(loaded, connections, run_id)


def _plan_code(plan: Plan, detailed: bool) -> int:
    if plan.unreachable:
        return EXIT_UNREACHABLE
    if plan.failed:
        return EXIT_FAILED
    return EXIT_CHANGES if detailed and plan.changes else EXIT_OK


def cmd_plan(args: argparse.Namespace, console: Console, connections_factory: Any = Connections) -> int:
    loaded = _load(args, console)
    run_id = api.new_run_id()
    with connections_factory(loaded.inventory) as connections:
        plan = _plan(loaded, console, connections, run_id)
    save_plan(run_id, plan, console.redact)
    rendered = {"text": lambda: plan_text(plan, console.verbosity),
                "json": lambda: json.dumps(plan_json(plan), indent=2, default=str),
                "markdown": lambda: plan_markdown(plan)}[args.format]()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(console.redact(rendered))
        console.err(f"plan written to {args.out}")
    else:
        console.out(rendered)
    return _plan_code(plan, args.detailed_exitcode)


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


def cmd_apply(args: argparse.Namespace, console: Console, connections_factory: Any = Connections) -> int:
    if args.check:
        args.format, args.out, args.detailed_exitcode = "text", None, False
        return cmd_plan(args, console, connections_factory)
    loaded = _load(args, console)
    run_id = api.new_run_id()
    with ClusterLocks(state_dir() / "locks", [c.name for c in loaded.clusters], run_id) as locks, \
            connections_factory(loaded.inventory) as connections:
        for cluster, previous in locks.interrupted_runs():
            console.err(f"WARNING: the last run on {cluster} ({previous.get('run_id')}, pid {previous.get('pid')} on "
                        f"{previous.get('host')}) ended during {previous['step']}; re-reading the cluster's state "
                        f"before going on")
        plan = _plan(loaded, console, connections, run_id)
        save_plan(run_id, plan, console.redact)
        (console.err if args.format == "json" else console.out)(plan_text(plan, console.verbosity))
        if not plan.changes:
            return _plan_code(plan, False)
        refusal = _confirm(args, plan, console)
        if refusal is not None:
            return refusal
        stop = threading.Event()
        with _interrupts(stop):
            run = api.apply(plan, connections, run_id, loaded.forks, _LiveProgress(console, locks), stop)
    paths = save_run(run, console.redact)
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
    if _ask(f"Apply {len(plan.changes)} change(s), {destructive} destructive?", console):
        return None
    console.err("not applied")
    return EXIT_FAILED


class _interrupts:
    """Ctrl-C or SIGTERM: finish the step under way, recover, report, then exit 130."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, lambda *_: self.stop.set())

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _run_code(run: RunResult) -> int:
    if run.interrupted:
        return EXIT_INTERRUPTED
    if run.failed:
        return EXIT_FAILED
    return EXIT_UNREACHABLE if run.plan.unreachable else EXIT_OK


def cmd_facts(args: argparse.Namespace, console: Console, connections_factory: Any = Connections) -> int:
    from .inventory import load_inventory

    inventory = load_inventory(args.inventory)
    _credentials(inventory, console)
    facts, unreachable = api.gather_facts(inventory, args.limit, connections_factory)
    console.out(json.dumps({"facts": facts, "unreachable": unreachable}, indent=2, default=str))
    return EXIT_UNREACHABLE if unreachable else EXIT_OK


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    from .inventory import load_inventory
    from .playbook import load_playbook, parse_extra_vars, validate_names

    playbook = load_playbook(args.playbook)
    extra = parse_extra_vars(args.extra_vars)
    if args.inventory:
        inventory = load_inventory(args.inventory)
        validate_names(playbook, api.inventory_var_names(inventory) | set(extra))
        where = f" against {args.inventory} ({len(inventory.clusters)} cluster(s))"
    else:
        where = " (names read from an inventory were not checked: pass -i)"
    tasks = sum(len(p.tasks) + len(p.handlers) for p in playbook.plays)
    console.out(f"{args.playbook}: valid, {len(playbook.plays)} play(s), {tasks} task(s){where}")
    return EXIT_OK


def cmd_inventory(args: argparse.Namespace, console: Console) -> int:
    from .inventory import describe, load_inventory

    inventory = load_inventory(args.inventory)
    view = describe(inventory)
    if args.format == "json":
        console.out(json.dumps(view, indent=2))
        return EXIT_OK
    lines = [f"inventory {inventory.source}: {len(inventory.clusters)} cluster(s)"]
    for cluster in view["clusters"]:
        lines.append(f"cluster {cluster['name']} (group {cluster['group']})")
        lines += [f"  {n['order']}  {n['name']:<16} {n['endpoint']:<40} {n['transport']:<6} user={n['user'] or '-'} "
                  f"password={n['password']}" + ("" if n["cert_validation"] else "  cert validation OFF")
                  for n in cluster["nodes"]]
    lines += [f"WARNING: {w}" for w in view["warnings"]]
    console.out("\n".join(lines))
    return EXIT_OK


def cmd_restore(args: argparse.Namespace, console: Console, connections_factory: Any = Connections) -> int:
    from .inventory import load_inventory
    from .restore import load_backups, restore

    used, backups = load_backups(args.run_id, args.only)
    inventory = load_inventory(args.inventory or used)
    _credentials(inventory, console)
    console.out(f"restore of run {args.run_id}: {len(backups)} backup(s)")
    console.out("\n".join(f"  {b['node']}: {b['kind']} {b['path']} <- {b['file']}" for b in backups))
    if not args.yes and not _ask(f"Restore {len(backups)} item(s), overwriting what is there now?", console):
        return EXIT_FAILED
    with ClusterLocks(state_dir() / "locks", [c.name for c in inventory.clusters], f"restore-{args.run_id}"), \
            connections_factory(inventory) as connections:
        results = restore(backups, connections)
    for result in results:
        console.out(f"{'ok     ' if result.ok else 'FAILED '} {result.backup['node']}: {result.backup['path']}: "
                    f"{result.message}")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def _ask(question: str, console: Console) -> bool:
    """Yes only from an operator at a terminal who types it."""
    if not sys.stdin.isatty():
        console.err(f"{question} Not on a terminal: rerun with --yes")
        return False
    console.err(f"{question} Type 'yes' to go on: ")
    return sys.stdin.readline().strip().lower() == "yes"


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from .demo import run_demo

    return run_demo(console)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad flag (exit 4, see _Parser)
        return int(exc.code or 0)
    console = Console(getattr(args, "verbose", 0))
    try:
        return args.run(args, console)
    except InputError as exc:
        console.err(f"error: {exc}")
        return EXIT_INVALID
    except ClusterLocked as exc:
        console.err(f"error: {exc}")
        return EXIT_LOCKED
    except EnforcerError as exc:
        console.err(f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        console.err("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
