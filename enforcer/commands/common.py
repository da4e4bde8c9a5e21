"""What every command shares: exit codes, loading with credentials, asking the operator, interrupts."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import signal
import sys
import threading
from typing import Any

from .. import api, vault
from ..console import Console
from ..errors import InputError
from ..inventory import PASSWORD_TRANSPORTS, load_inventory, missing_passwords
from ..model import Inventory, Plan
from ..vault import VaultSecrets

EXIT_OK, EXIT_FAILED, EXIT_CHANGES, EXIT_UNREACHABLE, EXIT_INVALID, EXIT_LOCKED = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130



def options(args: argparse.Namespace) -> api.Options:
    return api.Options(args.playbook, args.inventory, args.extra_vars, args.limit, names(args.tags),
                       names(args.skip_tags), args.forks, vault_secrets(args))


def vault_secrets(args: argparse.Namespace) -> VaultSecrets:
    """The vault passwords the flags (or ANSIBLE_VAULT_PASSWORD_FILE) give, asked for once per command."""
    if not hasattr(args, "_vault_secrets"):
        args._vault_secrets = vault.secrets(getattr(args, "vault_id", []) or [],
                                            getattr(args, "vault_password_file", None),
                                            getattr(args, "ask_vault_pass", False))
    found: VaultSecrets = args._vault_secrets
    return found


def read_inventory(args: argparse.Namespace, path: str, console: Console) -> Inventory:
    """The inventory, vault values decrypted with the command's vault passwords; all of them redacted."""
    found = vault_secrets(args)
    for _, password in found:
        console.redact.add(password)
    inventory = load_inventory(path, found)
    for secret in inventory.secrets:
        console.redact.add(secret)
    return inventory


def names(values: list[str]) -> set[str]:
    """`-t a,b -t c` is three tags, as in Ansible."""
    return {name.strip() for value in values for name in value.split(",") if name.strip()}


def load(args: argparse.Namespace, console: Console) -> api.Loaded:
    found = vault_secrets(args)
    for _, password in found:
        console.redact.add(password)
    loaded = api.load(options(args))
    for secret in loaded.inventory.secrets:
        console.redact.add(secret)
    credentials(loaded.inventory, console, getattr(args, "ask_pass", False))
    return loaded


def credentials(inventory: Inventory, console: Console, ask: bool = False) -> None:
    """Passwords come from the environment or, on a terminal, a prompt; all are masked in output. `ask`
    (-k/--ask-pass): one password, asked for, for every node whose transport takes one."""
    if ask:
        if not sys.stdin.isatty():
            raise InputError("-k/--ask-pass needs a terminal to ask on; set the password's environment variable")
        password = getpass.getpass("Connection password: ")
        for node in (n for c in inventory.clusters for n in c.nodes if n.connection.auth in PASSWORD_TRANSPORTS):
            node.connection = dataclasses.replace(node.connection, password=password)
    missing = missing_passwords(inventory)
    if missing and not sys.stdin.isatty():
        listed = ", ".join(n.name for n in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise InputError(f"no password for {listed}: ansible_password is empty; set the environment variable "
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


def plan_code(plan: Plan, detailed: bool) -> int:
    if plan.locked:
        return EXIT_LOCKED
    if plan.unreachable:
        return EXIT_UNREACHABLE
    if plan.failed:
        return EXIT_FAILED
    return EXIT_CHANGES if detailed and plan.changes else EXIT_OK


def writable(path: str) -> None:
    """A file enforcer will write, checked before any node is contacted: its folder must exist and be writable."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise InputError(f"{path}: cannot be written (permission denied)")


def emit(text: str, out: str | None, console: Console, what: str) -> None:
    """To --out FILE when given (redacted like everything else), else to stdout."""
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(console.redact(text))
        console.err(f"{what} written to {out}")
    else:
        console.out(text)


def ask(question: str, console: Console) -> bool:
    """Yes only from an operator at a terminal who types it."""
    if not sys.stdin.isatty():
        console.err(f"{question} Not on a terminal: rerun with --yes")
        return False
    console.err(f"{question} Type 'yes' to go on: ")
    return sys.stdin.readline().strip().lower() == "yes"


class interrupts:
    """Ctrl-C or SIGTERM: finish the step under way, recover, report, then exit 130."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}
        self.count = 0  # signals received: the progress ticker says what they do (a handler must not print)

    def __enter__(self) -> interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._received)
        return self

    def _received(self, *_: object) -> None:
        self.count += 1
        self.stop.set()

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
