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
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import __version__
from .commands.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_LOCKED
from .commands.inspect import cmd_doctor, cmd_facts, cmd_inventory, cmd_validate
from .commands.run import cmd_apply, cmd_plan
from .console import Console
from .errors import EnforcerError, InputError
from .locks import ClusterLocked


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags, which would read as 'changes pending': use 4."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _run_options(parser: argparse.ArgumentParser, saved_plan: bool = False) -> None:
    """`saved_plan`: apply, whose playbook and inventory may come from a saved plan (--plan) instead."""
    parser.add_argument("playbook", nargs="?" if saved_plan else None)
    parser.add_argument("-i", "--inventory", required=not saved_plan)
    parser.add_argument("-l", "--limit", metavar="PATTERN",
                        help="an Ansible host pattern (a:b, a:&b, a:!b, wildcards, ~regex); whole clusters only")
    parser.add_argument("--list-hosts", action="store_true",
                        help="list the clusters and nodes each play would act on, and stop (no connection)")
    parser.add_argument("--diff", action="store_true",
                        help="accepted for Ansible's sake: plans always show before -> after")
    parser.add_argument("--list-tasks", action="store_true",
                        help="list each play's tasks that --tags/--skip-tags select, and stop (no connection)")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                        help="k=v, a YAML/JSON mapping, or @file; highest precedence")
    parser.add_argument("-t", "--tags", action="append", default=[], help="only tasks with these tags")
    parser.add_argument("--skip-tags", action="append", default=[], help="skip tasks with these tags")
    parser.add_argument("-f", "--forks", type=int, default=10, help="nodes worked on at once (default 10)")
    parser.add_argument("--no-history", action="store_true", help="do not record this run in the history")


def _vault(parser: argparse.ArgumentParser) -> None:
    """Ansible's vault flags (and -k), on every command that reads an inventory, a playbook or vars files."""
    parser.add_argument("-k", "--ask-pass", action="store_true",
                        help="ask for the connection password (one, for every node whose transport takes one)")
    parser.add_argument("--vault-id", action="append", default=[], metavar="[LABEL@]FILE|prompt",
                        help="a vault password: a file (run when executable) or 'prompt'; repeatable")
    parser.add_argument("--vault-password-file", "--vault-pass-file", metavar="FILE",
                        help="the vault password's file (default: $ANSIBLE_VAULT_PASSWORD_FILE)")
    parser.add_argument("-J", "--ask-vault-pass", "--ask-vault-password", action="store_true",
                        help="ask for the vault password")


def _verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v tasks, -vv each agent op, -vvv each WinRM request")


def _installed(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def build_parser() -> argparse.ArgumentParser:
    from .simulator.cli import add_sim_command

    parser = _Parser(prog="enforcer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"enforcer {__version__} (Python "
                        f"{sys.version.split()[0]}, pywinrm {_installed('pywinrm')}, ansible-core "
                        f"{_installed('ansible-core')})")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = commands.add_parser("plan", help="dry run: read every node, show what apply would change")
    _run_options(plan)
    plan.add_argument("--format", choices=("text", "json", "markdown", "junit"), default="text",
                      help="junit: one test case per change (a failure: drift) or check, for CI")
    plan.add_argument("--out", metavar="FILE", help="write the plan there instead of stdout")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when changes are pending")
    plan.add_argument("--save-plan", metavar="FILE", help="save the plan, for `enforcer apply --plan FILE` to run "
                                                          "exactly it (or refuse it if the nodes changed meanwhile)")
    _verbosity(plan)
    _vault(plan)
    plan.set_defaults(run=cmd_plan)

    apply = commands.add_parser("apply", help="plan, confirm, apply, recap")
    _run_options(apply, saved_plan=True)
    apply.add_argument("--plan", metavar="FILE", help="apply exactly this saved plan (`plan --save-plan`), or refuse "
                                                      "it as stale if the nodes or the files changed since")
    apply.add_argument("--yes", action="store_true", help="apply without asking (needed for destructive "
                                                          "changes when not on a terminal)")
    apply.add_argument("--check", action="store_true", help="only plan (same as `enforcer plan`)")
    apply.add_argument("--format", choices=("text", "json", "junit"), default="text",
                       help="json: the run as JSON; junit: one test case per step or check, for CI")
    _verbosity(apply)
    _vault(apply)
    apply.set_defaults(run=cmd_apply)

    facts = commands.add_parser("facts", help="the gathered facts of every node, as JSON")
    facts.add_argument("-i", "--inventory", required=True)
    facts.add_argument("-l", "--limit", metavar="PATTERN")
    _verbosity(facts)
    _vault(facts)
    facts.set_defaults(run=cmd_facts)

    validate = commands.add_parser("validate", help="check a playbook (and inventory) without connecting")
    validate.add_argument("playbook")
    validate.add_argument("-i", "--inventory")
    validate.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS")
    _verbosity(validate)
    _vault(validate)
    validate.set_defaults(run=cmd_validate)

    inventory = commands.add_parser("inventory", help="show clusters, their ordered nodes and how each is reached")
    inventory.add_argument("-i", "--inventory", required=True)
    inventory.add_argument("-l", "--limit", metavar="PATTERN", help="only the clusters PATTERN selects")
    inventory.add_argument("--format", choices=("text", "json"), default="text")
    _verbosity(inventory)
    _vault(inventory)
    inventory.set_defaults(run=cmd_inventory)

    doctor = commands.add_parser("doctor", help="check every node can be worked with, and say how to fix what "
                                                "cannot (read-only)")
    doctor.add_argument("-i", "--inventory", required=True)
    doctor.add_argument("-l", "--limit", metavar="PATTERN")
    doctor.add_argument("-f", "--forks", type=int, default=10, metavar="N", help="nodes checked at once")
    doctor.add_argument("--format", choices=("text", "json"), default="text")
    _verbosity(doctor)
    _vault(doctor)
    doctor.set_defaults(run=cmd_doctor)

    restore = commands.add_parser("restore", help="put back what a run deleted, from the backups it took")
    restore.add_argument("run_id", metavar="RUN_ID")
    restore.add_argument("--only", metavar="PATH", help="only the backup of this registry key or path")
    restore.add_argument("-i", "--inventory", help="default: the inventory the run used")
    restore.add_argument("--yes", action="store_true", help="restore without asking")
    _verbosity(restore)
    _vault(restore)
    restore.set_defaults(run=_later("records", "cmd_restore"))

    unlock = commands.add_parser("unlock", help="remove the lease a run holds on a cluster (asks; recorded)")
    unlock.add_argument("cluster", metavar="CLUSTER", help="a cluster of the inventory (a host pattern)")
    unlock.add_argument("-i", "--inventory", required=True)
    unlock.add_argument("--yes", action="store_true", help="unlock without asking")
    unlock.add_argument("--no-history", action="store_true", help="do not record it in the history")
    _verbosity(unlock)
    _vault(unlock)
    unlock.set_defaults(run=_later("unlock", "cmd_unlock"))

    schedule = commands.add_parser("schedule", help="enforce on a timer: monitor drift, or correct it")
    _run_options(schedule)
    schedule.add_argument("--every", metavar="DURATION", help="e.g. 15m, 1h, 30s")
    schedule.add_argument("--cron", metavar="EXPR", help="a cron expression, e.g. '*/15 * * * *'")
    schedule.add_argument("--mode", choices=("monitor", "enforce"), default="monitor",
                          help="monitor: plan and record drift; enforce: apply it (inside enforce_window)")
    schedule.add_argument("--splay", default="0s", metavar="DURATION", help="spread clusters over this much time")
    schedule.add_argument("--max-runs", type=int, metavar="N", help="stop after N rounds")
    schedule.add_argument("--metrics-file", metavar="PATH", help="a Prometheus textfile for node_exporter")
    schedule.add_argument("--print-systemd", action="store_true", help="print a service and timer pair, and exit")
    _verbosity(schedule)
    _vault(schedule)
    schedule.set_defaults(run=_later("schedule", "cmd_schedule"))

    history = commands.add_parser("history", help="runs recorded in the history, oldest first")
    history.add_argument("--cluster", metavar="C")
    history.add_argument("--since", metavar="T", help="an ISO date/time, or a duration back from now: 24h, 7d")
    history.add_argument("--format", choices=("text", "json"), default="text")
    _verbosity(history)
    history.set_defaults(run=_later("records", "cmd_history"))

    report = commands.add_parser("report", help="a saved plan or run as HTML, Markdown or JSON")
    report.add_argument("run_id", metavar="RUN_ID")
    report.add_argument("--format", choices=("html", "markdown", "json"), default="html")
    report.add_argument("--out", metavar="FILE", help="write there instead of stdout")
    _verbosity(report)
    report.set_defaults(run=_later("records", "cmd_report"))

    demo = commands.add_parser("demo", help="the whole story against a broken simulated cluster, in-process")
    _verbosity(demo)
    demo.set_defaults(run=cmd_demo)

    add_sim_command(commands)
    return parser


# -- commands ---------------------------------------------------------------------------
def _later(module: str, name: str) -> Callable[[argparse.Namespace, Console], int]:
    """A command imported when it runs: `plan` need not load the scheduler, croniter or the history reader."""
    def run(args: argparse.Namespace, console: Console) -> int:
        command: Callable[[argparse.Namespace, Console], int] = getattr(
            importlib.import_module(f".commands.{module}", __package__), name)
        return command(args, console)
    return run


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from .demo import run_demo

    return run_demo(console)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad flag (exit 4, see _Parser)
        return int(exc.code or 0)
    console = Console(getattr(args, "verbose", 0))
    # What enforcer writes (state directory, records, reports, history) is its user's alone: 0600 files.
    umask = os.umask(0o077)
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
    finally:
        os.umask(umask)


if __name__ == "__main__":
    sys.exit(main())
