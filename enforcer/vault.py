"""Vault passwords, found as Ansible finds them: --vault-id [label@]FILE|prompt (repeatable),
--vault-password-file FILE, --ask-vault-pass, or ANSIBLE_VAULT_PASSWORD_FILE.

A password file that is executable is run, and its output is the password (Ansible's vault scripts). The
passwords and every value they decrypt are secrets: the console redacts them wherever they appear.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

from .errors import InputError

VaultSecrets = list[tuple[str, str]]  # (vault id label, password)


def secrets(vault_ids: list[str], password_file: str | None, ask: bool) -> VaultSecrets:
    found: VaultSecrets = []
    entries = list(vault_ids)
    if password_file:
        entries.append(password_file)
    if ask:
        entries.append("prompt")
    if not entries and os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE"):
        entries.append(os.environ["ANSIBLE_VAULT_PASSWORD_FILE"])
    for entry in entries:
        label, _, where = entry.rpartition("@") if "@" in entry else ("default", "", entry)
        found.append((label or "default", _prompt(label) if where == "prompt" else _from_file(where)))
    return found


def _prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise InputError("--ask-vault-pass needs a terminal; use --vault-password-file FILE")
    password = getpass.getpass(f"Vault password ({label or 'default'}): ")
    if not password:
        raise InputError("the vault password is empty")
    return password


def _from_file(path: str) -> str:
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"vault password file {path} does not exist")
    try:
        if os.access(file, os.X_OK):
            ran = subprocess.run([str(file)], capture_output=True, text=True, timeout=60, check=False)
            if ran.returncode != 0:
                raise InputError(f"vault password script {path} exited {ran.returncode}")
            text = ran.stdout
        else:
            text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"vault password file {path} cannot be read: {exc}") from None
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise InputError(f"vault password file {path} is empty")
    return password
